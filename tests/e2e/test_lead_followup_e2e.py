"""Issue 12, the young person's side, through the Telegram emulator and our bot.

The day-7 question and each of its three answers, the offer of another CFA accepted
with its new consent, a CFA's message relayed both ways (the reply read back from the
portal partial, served by the real app to a CFA signed in by a magic link), ``/annuler``
stopping the CFA's messages, and a blocked chat making a message "failed".

Every button here is answered by the bot itself (never by Rasa), so this bot runs
without the Rasa stack: a few seconds instead of minutes. The blocked chat is played
by the bridge (:class:`BlockingBridge`): the emulator cannot refuse a message as
Telegram does for a bot the user blocked.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from playwright.async_api import expect
from sqlalchemy import select

from akto_data.db import session_scope
from akto_data.i18n import text as t
from akto_data.leads.lifecycle import apply_status
from akto_data.leads.models import Lead, LeadMessage, OutboxMessage
from akto_data.leads.outbox import record_success
from akto_data.leads.relay import RelayRefused, post_cfa_message
from akto_data.leads.store import create_lead
from akto_data.leads.youth import queue_youth_steps, reroute_consent_version
from akto_data.models import utcnow
from bot.telegram_front import TelegramFront
from tests.e2e.conftest import RunningBot, bot_settings, stop_bot
from tests.e2e.emulator import BotMessage, EmulatedUser, EmulatorBridge
from tests.web.conftest import serve_console

CROIX_RIVAIL = "CFA agricole de l'EPLEFPA de Croix-Rivail"
ROBERT = "CFA agricole du LPA du Robert"


class BlockingBridge(EmulatorBridge):
    """Answers ``sendMessage`` to a blocked chat as Telegram does (403), the rest as the emulator."""

    def __init__(self) -> None:
        super().__init__()
        self.blocked: set[int] = set()

    async def do_request(self, url, method, request_data=None, **kwargs):  # type: ignore[override]
        if url.endswith("/sendMessage") and request_data is not None:
            chat = request_data.parameters.get("chat_id")
            if chat is not None and int(chat) in self.blocked:
                return 403, json.dumps({"ok": False, "error_code": 403,
                                        "description": "Forbidden: bot was blocked by the user"}).encode()
        return await super().do_request(url, method, request_data, **kwargs)


def _shared_bot(request: pytest.FixtureRequest) -> RunningBot | None:
    """The session's shared test bot, if another test already started it (never starts it).

    Every bot sends the due questions and CFA messages of the database; the shared one
    has another token, so what it took would reach nobody: it is paused meanwhile (as
    in test_lead_e2e). pytest has no public way to ask whether a fixture is active.
    """
    for definition in request._fixturemanager.getfixturedefs("bot", request.node) or ():
        cached = getattr(definition, "cached_result", None)
        if cached and isinstance(cached[0], RunningBot):
            return cached[0]
    return None


@pytest_asyncio.fixture(scope="module")
async def followup_bot(request, base_settings, emulator_url) -> AsyncIterator[tuple[RunningBot, BlockingBridge]]:
    shared = _shared_bot(request)
    if shared is not None:
        await shared.front.notices.stop()
        await shared.front.lead_relay.stop()
    settings = bot_settings(base_settings, emulator_url, "e2e-followup-token", lead_notice_interval=0.2)
    front = TelegramFront(settings)
    bridge = BlockingBridge()
    app = front.build(request=bridge, updates_request=EmulatorBridge())
    await app.initialize()
    await front._post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0.05, timeout=0)
    running = RunningBot(front, emulator_url)
    yield running, bridge
    await stop_bot(running)
    if shared is not None:
        shared.front.notices.start()
        shared.front.lead_relay.start()


@pytest_asyncio.fixture
async def person(followup_bot) -> AsyncIterator[EmulatedUser]:
    running, _bridge = followup_bot
    young = running.user()
    yield young
    await young.aclose()


def delivered_lead(chat: str, cfa_id: str = "mq_croix_rivail", rome: str = "A1414", days_ago: int = 8) -> int:
    """A lead of this chat whose e-mail reached the CFA ``days_ago`` days ago."""
    reached = utcnow() - timedelta(days=days_ago)
    data = {"chat_id": chat, "cfa_id": cfa_id, "rome": rome, "training": "CAPa Métiers de l'agriculture",
            "first_name": "Léa", "age": 19, "territory": "martinique", "town": "Le Lamentin", "diploma_level": 3,
            "start_when": "rentree", "has_employer": False, "mobility": "none", "contact_channel": "phone",
            "contact_value": "+596696123456", "reasons": ["places"]}
    with session_scope() as session:
        lead = create_lead(data, "2026-11-27", 3, session=session)
        for row in lead.outbox:
            record_success(row, True, reached)
        apply_status(session, lead.idempotency_key, "sent", by="system", now=reached)
        return lead.id


def schedule() -> int:
    with session_scope() as session:
        return queue_youth_steps(session, utcnow(), followup_days=7)


def lead(lead_id: int) -> Lead:
    with session_scope() as session:
        found = session.get(Lead, lead_id)
        session.expunge(found)
        return found


def emails(lead_id: int) -> list[str]:
    with session_scope() as session:
        return list(session.scalars(select(OutboxMessage.kind).where(
            OutboxMessage.lead_id == lead_id, OutboxMessage.channel == "email").order_by(OutboxMessage.id)))


async def wait_for(user: EmulatedUser, part: str, timeout: float = 15.0) -> BotMessage:
    """The first message containing ``part`` among the next ones."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in await user.replies(timeout=max(0.5, deadline - time.monotonic()), settle=0.2):
            if part in message.text:
                return message
            seen.append(message.text)
    raise AssertionError(f"no message with {part!r}; got {seen}")


async def eventually(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.1)


# -- the day-7 question --------------------------------------------------------------------------

@pytest.mark.parametrize("choice, status, answer, mails", [
    ("Oui", "contacted", t("lead.followup.thanks", cfa=CROIX_RIVAIL), ["lead"]),
    ("Pas encore", "sent", t("lead.followup.nudged", cfa=CROIX_RIVAIL), ["lead", "nudge"]),
    ("Plus intéressé", "withdrawn", t("lead.followup.withdrawn", cfa=CROIX_RIVAIL), ["lead", "withdrawn"]),
])
async def test_day_7_question_and_each_answer(person, choice, status, answer, mails):
    # Another CFA teaches it, but 8 calendar days are not 10 working days: only the question comes.
    lead_id = delivered_lead(str(person.user_id))
    assert schedule() >= 1
    question = await wait_for(person, "Le CFA t'a contacté ?")
    assert CROIX_RIVAIL in question.text and "CAPa Métiers de l'agriculture" in question.text
    assert [title for title, _ in question.buttons] == ["✅ Oui", "⏳ Pas encore", "🚫 Plus intéressé·e"]
    assert schedule() == 0  # asked once

    await person.press(question, choice)
    assert (await wait_for(person, answer[:30])).text == answer
    after = lead(lead_id)
    assert (after.status, after.followup_answer) == (status, {"Oui": "yes", "Pas encore": "not_yet"}.get(
        choice, "stop"))
    assert emails(lead_id) == mails
    # The same keyboard again: answered once, nothing changes.
    await person.press(question, "Plus intéressé")
    assert (await person.replies())[-1].text == t("bot.button_expired")
    assert lead(lead_id).status == status and emails(lead_id) == mails


# -- the offer of another CFA ----------------------------------------------------------------------

async def test_offer_of_another_cfa_accepted_with_the_new_consent(person):
    chat = str(person.user_id)
    lead_id = delivered_lead(chat, days_ago=20)  # more than 10 working days, even with holidays
    assert schedule() == 2  # the day-7 question and the offer
    offer = await wait_for(person, "n'a pas encore répondu")
    assert offer.text.startswith(CROIX_RIVAIL) and f"{ROBERT} (Le Robert)" in offer.text
    assert f"envoyées à {ROBERT}, pour qu'il te recontacte" in offer.text  # the consent names the new CFA
    assert [title for title, _ in offer.buttons] == [f"✅ Oui, envoyer à {ROBERT}", "Non merci"]

    await person.press(offer, "Oui, envoyer")
    await wait_for(person, f"C'est envoyé à {ROBERT} ✅")
    with session_scope() as session:
        new = session.scalars(select(Lead).where(Lead.rerouted_from_id == lead_id)).one()
        assert (new.cfa_id, new.chat_id, new.consent_version) == ("mq_lpa_robert", chat, reroute_consent_version())
    assert lead(lead_id).status == "rerouted" and emails(lead_id) == ["lead", "rerouted"]


# -- a CFA's message, both ways --------------------------------------------------------------------

async def test_cfa_message_reaches_the_young_person_and_the_reply_reaches_the_portal(person, base_settings):
    from tests.unit.test_lead_relay import signed_in

    os.environ.setdefault("CONSOLE_SECRET", secrets.token_urlsafe(32))
    chat = str(person.user_id)
    lead_id = delivered_lead(chat, cfa_id="mq_lpa_robert", days_ago=1)
    with session_scope() as session:
        post_cfa_message(session, "mq_lpa_robert", lead_id, "Bonjour Léa, pouvez-vous venir <mardi> ?")
    relayed = await wait_for(person, "✉️ Message de")
    # Sent in HTML parse mode, escaped: the emulator keeps the text as sent (Telegram shows "<mardi>"),
    # and the message says how to stop the CFA's messages.
    assert relayed.text == (f"✉️ Message de {ROBERT} :\n\nBonjour Léa, pouvez-vous venir &lt;mardi&gt; ?\n\n"
                            "Tu ne veux plus de ses messages ? Appuie sur « 🔕 Ne plus recevoir ses messages », "
                            "à tout moment.")
    assert [title for title, _ in relayed.buttons] == ["✏️ Répondre", "🔕 Ne plus recevoir ses messages"]
    await eventually(lambda: _states(lead_id) == ["sent"])

    await person.press(relayed, "Répondre")
    await wait_for(person, f"Écris ta réponse pour {ROBERT} (ou /annuler)")
    await person.say("Oui, mardi 10 h c'est parfait")
    await wait_for(person, f"Envoyé à {ROBERT} ✅")
    assert emails(lead_id)[-1] == "reply"

    with serve_console() as console:
        client = signed_in(console.url, "mq_lpa_robert", "leads@lpa-robert.example")
        try:
            partial = client.get(f"/cfa/demandes/{lead_id}/messages")
        finally:
            client.close()
    assert partial.status_code == 200
    assert "Réponse du jeune" in partial.text and "Oui, mardi 10 h c&#39;est parfait" in partial.text
    assert 'data-state="sent"' in partial.text and "Bonjour Léa, pouvez-vous venir &lt;mardi&gt; ?" in partial.text

    # Another message; this time "Répondre" then /annuler: nothing sent, the CFA's messages stop.
    with session_scope() as session:
        post_cfa_message(session, "mq_lpa_robert", lead_id, "Et votre CV ?")
    second = await wait_for(person, "Et votre CV ?")
    await person.press(second, "Répondre")
    await wait_for(person, "Écris ta réponse")
    await person.say("/annuler")
    await wait_for(person, t("lead.relay.cancelled", cfa=ROBERT))
    assert lead(lead_id).relay_stopped_at is not None
    with session_scope() as session, pytest.raises(RelayRefused):
        post_cfa_message(session, "mq_lpa_robert", lead_id, "Allô ?")
    with session_scope() as session:
        young = session.scalars(select(LeadMessage.text).where(LeadMessage.lead_id == lead_id,
                                                               LeadMessage.direction == "young")).all()
    assert young == ["Oui, mardi 10 h c'est parfait"]


async def test_a_blocked_chat_makes_the_message_failed(person, followup_bot):
    _running, bridge = followup_bot
    lead_id = delivered_lead(str(person.user_id), cfa_id="mq_lpa_robert", days_ago=1)
    bridge.blocked.add(person.user_id)
    with session_scope() as session:
        post_cfa_message(session, "mq_lpa_robert", lead_id, "Bonjour ?")
    await eventually(lambda: _states(lead_id) == ["failed"])
    with session_scope() as session:
        message = session.scalars(select(LeadMessage).where(LeadMessage.lead_id == lead_id)).one()
        assert message.attempts == 1 and "403" in (message.last_error or "")
    await asyncio.sleep(1.0)  # several rounds of the task: never tried again
    assert _states(lead_id) == ["failed"]


async def test_cfa_writes_in_its_portal_in_a_browser_and_reads_the_reply(person, chromium):
    """The relay both ways as people use it: the CFA in Chromium, the young person in Telegram."""
    from tests.unit.test_lead_relay import login_link

    os.environ.setdefault("CONSOLE_SECRET", secrets.token_urlsafe(32))
    lead_id = delivered_lead(str(person.user_id), days_ago=2)
    token = login_link("mq_croix_rivail", "leads@croix-rivail.example")
    with serve_console() as console:
        context = await chromium.new_context(locale="fr-FR")
        page = await context.new_page()
        page.set_default_timeout(20_000)
        await page.goto(f"{console.url}/cfa/lien/{token}?next=/cfa/demandes/{lead_id}")
        async with page.expect_navigation():
            await page.get_by_role("button", name="Se connecter").click()
        box = page.locator("#lead-messages textarea")  # the partial, loaded by htmx
        await box.fill("Bonjour Léa, êtes-vous disponible jeudi ?")
        await page.locator("#lead-messages").get_by_role("button", name="Envoyer").click()
        sent = page.locator("#lead-messages li.from-cfa")
        await expect(sent).to_contain_text("Bonjour Léa, êtes-vous disponible jeudi ?")

        relayed = await wait_for(person, "êtes-vous disponible jeudi ?")
        await person.press(relayed, "Répondre")
        await wait_for(person, "Écris ta réponse")
        await person.say("Oui, jeudi matin")
        await wait_for(person, f"Envoyé à {CROIX_RIVAIL} ✅")

        await page.reload()
        await expect(page.locator("#lead-messages li.from-young")).to_contain_text("Oui, jeudi matin")
        await expect(sent).to_contain_text("envoyé")
        await context.close()


def _states(lead_id: int) -> list[str]:
    with session_scope() as session:
        return list(session.scalars(select(LeadMessage.state).where(
            LeadMessage.lead_id == lead_id, LeadMessage.direction == "cfa").order_by(LeadMessage.id)))
