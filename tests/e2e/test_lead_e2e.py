"""Issue 5, done when: a full lead conversation through Telegram (one wrong phone number
re-asked) ends in one lead and one e-mail to the CFA, whose signed link updates the
status and sends the young person a Telegram message (sent by the bot, the only process
holding the token: issue 10, finding 1)."""

from __future__ import annotations

import re

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from akto_data.db import session_scope
from akto_data.leads.contact import example_phone
from akto_data.leads.delivery import OutboxWorker, SmtpSettings
from akto_data.leads.models import Lead
from akto_data.leads.status_page import serve_in_background
from tests.e2e.conftest import bot_settings, start_bot, stop_bot


@pytest_asyncio.fixture
async def lead_user(rasa_stack, base_settings, emulator_url, bot):
    """A bot with the product's flood limit (the shared test bot has a tight one for the flood test).

    Every bot sends the due notices of the database; the shared test bot, on the same
    database with another token, must not take this one's (the emulator would give it to
    nobody), so its notice task is paused meanwhile.
    """
    await bot.front.notices.stop()
    running = await start_bot(bot_settings(base_settings, emulator_url, "e2e-lead-token", lead_notice_interval=0.5),
                              emulator_url)
    person = running.user()
    yield running, person
    await person.aclose()
    await stop_bot(running)
    bot.front.notices.start()


@pytest.fixture
def status_page(monkeypatch):
    page = serve_in_background("127.0.0.1", 0)
    monkeypatch.setenv("LEAD_LINKS_BASE_URL", f"http://127.0.0.1:{page.server_port}")
    monkeypatch.setenv("LEAD_LINKS_SECRET", "e2e-secret-of-16-chars")
    yield page
    page.shutdown()


def leads_of(chat: str) -> list[Lead]:
    with session_scope() as session:
        return list(session.scalars(select(Lead).where(Lead.chat_id == chat)))


async def test_full_lead_conversation_ends_in_one_lead_one_email_and_status_notice(
        lead_user, smtp_inbox, status_page, monkeypatch):
    bot, user = lead_user
    inbox, smtp_port = smtp_inbox
    chat = str(user.user_id)

    # Leads sent by earlier tests of this session (one e2e database) are delivered first,
    # so that what follows counts this conversation's lead only.
    while OutboxWorker(SmtpSettings(port=smtp_port)).run_once():
        pass
    inbox.messages.clear()

    await user.say("je veux être contacté par un CFA")
    first = (await user.replies())[-1]
    assert "Quelques questions rapides" in first.text and "prénom" in first.text
    await user.press(first, "Léa")  # the first name of the Telegram profile, offered as a button
    assert "quel âge" in (await user.replies())[-1].text
    await user.say("19")
    await user.press((await user.replies())[-1], "Martinique")
    assert "commune" in (await user.replies())[-1].text
    await user.say("lamentin")
    assert "métier" in (await user.replies())[-1].text
    # A question in the middle of the form is answered, then the form asks again.
    await user.say("c koi l'alternance")
    answer = (await user.replies())[-1]
    assert "Source" in answer.text and answer.text.endswith("soudeur…")  # answer, then the question again
    await user.say("cuisinier")
    await user.press((await user.replies())[-1], "CAP / BEP")
    await user.press((await user.replies())[-1], "À la rentrée")
    await user.press((await user.replies())[-1], "Pas encore")
    await user.press((await user.replies())[-1], "Non, je reste")
    cfas = (await user.replies())[-1]
    assert "CFA" in cfas.text and any("UMIH" in title.upper() for title, _ in cfas.buttons)
    chosen = next(title for title, _ in cfas.buttons if "UMIH" in title.upper())
    await user.press(cfas, chosen)
    await user.press((await user.replies())[-1], "téléphone")
    example = example_phone("martinique")  # libphonenumber's example mobile of the territory
    assert example in (await user.replies())[-1].text

    await user.say("06961234")  # one digit group missing
    again = (await user.replies())[-1]
    assert "ne semble pas valide" in again.text and example in again.text
    await user.say("0696 12 34 56")  # stored in E.164: +596696123456
    reasons = (await user.replies())[-1]
    await user.press(reasons, "le salaire")
    await user.press((await user.replies())[-1], "C'est tout")
    await user.press((await user.replies())[-1], "Pas de message")
    consent = (await user.replies())[-1]  # the recap, then the consent question with its buttons
    assert "Léa" in consent.text and "Le Lamentin" in consent.text and "0696 12 34 56" in consent.text
    assert "UMIH" in consent.text.upper() and "/confidentialite" in consent.text
    assert leads_of(chat) == []  # nothing stored before the yes

    # Change an answer from the summary, then send.
    await user.press(consent, "Modifier")
    await user.press((await user.replies())[-1], "Prénom")
    await user.say("Léana")
    consent = (await user.replies())[-1]
    assert "Prénom : Léana" in consent.text
    await user.press(consent, "Oui, j'envoie")
    assert "C'est envoyé" in (await user.replies())[-1].text

    (lead,) = leads_of(chat)
    assert (lead.first_name, lead.age, lead.town, lead.rome, lead.contact_value) == (
        "Léana", 19, "Le Lamentin", "G1602", "+596696123456")
    assert lead.consent_version and lead.reasons == ["pay"]
    assert chosen.endswith(f"– {lead.training}")  # the training its button showed

    # The outbox worker (no Telegram token) delivers one e-mail to the CFA.
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    worker = OutboxWorker(SmtpSettings(port=smtp_port))
    assert worker.run_once() == 1 and worker.run_once() == 0
    (rcpt, email), = inbox.messages
    assert rcpt == ["leads@mq-umih.example"]
    body = email.get_body(("plain",)).get_content()
    assert "Léana" in body and "0696 12 34 56" in body
    link = re.search(r"Contacté : (\S+)", body).group(1)  # the e-mail's one-click statuses (not "read")

    # The CFA follows the signed link and confirms: the status changes, the young person hears of it.
    assert "<form" in httpx.get(link).text
    assert httpx.post(link).status_code == 200
    assert leads_of(chat)[0].status == "contacted"
    assert worker.run_once() == 0  # the notice is not the worker's: the bot sends it
    notice = (await user.replies())[-1]
    assert "indique t'avoir contacté" in notice.text and lead.training in notice.text
