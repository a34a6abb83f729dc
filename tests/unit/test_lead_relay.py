"""Issue 12, section 1: a short message from the CFA to the young person, relayed in Telegram
by the bot, and the young person's reply relayed back to the portal.

The portal partial is served by the real app (uvicorn) and read with a CFA signed in by
a magic link; the bot's sending task talks HTTP to a Bot API server that answers like
Telegram (the emulator cannot refuse a message as a blocked bot does).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from telegram import Bot

from akto_data.cfa.login import token_hash
from akto_data.cfa.models import CfaAccount, CfaLoginLink
from akto_data.cfa.settings import delivery_for
from akto_data.db import session_scope
from akto_data.i18n import text as t
from akto_data.leads.emails import reply_content
from akto_data.leads.lifecycle import apply_status
from akto_data.leads.models import Lead, LeadMessage, OutboxMessage
from akto_data.leads.outbox import MAX_ATTEMPTS
from akto_data.leads.relay import (
    BLOCKED,
    MAX_LENGTH,
    MAX_PER_DAY,
    MAX_UNANSWERED,
    RelayRefused,
    claim_relay,
    post_cfa_message,
    route_reply,
    start_reply,
    stop_relay,
    thread,
)
from akto_data.leads.youth import press_lead_button, queue_youth_steps
from akto_data.models import utcnow
from bot.lead_relay import LeadRelay
from bot.pacing import ChatPacer
from tests.unit.test_lead_followup_youth import new_lead
from tests.unit.test_lead_notices import TOKEN, FakeBotApi

NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
CFA = "mq_croix_rivail"
CFA_NAME = "CFA agricole de l'EPLEFPA de Croix-Rivail"


def post(lead_id: int, text: str, cfa: str = CFA, now: datetime = NOW) -> None:
    with session_scope() as session:
        post_cfa_message(session, cfa, lead_id, text, now)


def refusal(lead_id: int, text: str, cfa: str = CFA) -> str:
    with pytest.raises(RelayRefused) as caught:
        post(lead_id, text, cfa)
    return caught.value.key


def messages(lead_id: int) -> list[LeadMessage]:
    with session_scope() as session:
        rows = list(session.scalars(select(LeadMessage).where(LeadMessage.lead_id == lead_id)
                                    .order_by(LeadMessage.id)))
        session.expunge_all()
        return rows


def lead(lead_id: int) -> Lead:
    with session_scope() as session:
        found = session.get(Lead, lead_id)
        session.expunge(found)
        return found


def reply(chat: str, text: str | None = None, command: str | None = None, now: datetime = NOW) -> str | None:
    with session_scope() as session:
        return route_reply(session, chat, text, command, now)


def relay_round(api: FakeBotApi, now: datetime) -> int:
    async def run() -> int:
        async with Bot(TOKEN, base_url=api.base_url) as bot:
            return await LeadRelay(bot, ChatPacer(0), clock=lambda: now).run_once()

    return asyncio.run(run())


@pytest.mark.parametrize("db", ["catalogue", "catalogue_postgres"])
def test_a_cfa_message_counts_as_an_answer_and_is_checked(db, request):
    request.getfixturevalue(db)
    lead_id = new_lead()
    assert refusal(lead_id, "   ") == "lead.relay.refused.empty"
    assert refusal(lead_id, "x" * (MAX_LENGTH + 1)) == "lead.relay.refused.too_long"
    with pytest.raises(LookupError):  # another CFA's lead is as unknown as a missing one
        post(lead_id, "Bonjour", cfa="mq_lpa_robert")
    with session_scope() as session:
        assert thread(session, "mq_lpa_robert", lead_id) is None
    assert messages(lead_id) == [] and lead(lead_id).first_answer_at is None

    post(lead_id, "  Bonjour Léa, appelez-nous au 0596 00 00 00 <b>vite</b>  ")
    (message,) = messages(lead_id)
    assert (message.direction, message.state, message.text) == (
        "cfa", "pending", "Bonjour Léa, appelez-nous au 0596 00 00 00 <b>vite</b>")
    assert lead(lead_id).first_answer_at is not None
    # An answer: no day-7 question, no offer of another CFA.
    with session_scope() as session:
        assert queue_youth_steps(session, NOW + timedelta(days=40), followup_days=7) == 0


def test_nothing_can_be_written_to_someone_unreachable(catalogue):
    console = new_lead(chat_id="console-lea")
    assert refusal(console, "Bonjour") == "lead.relay.refused.no_chat"
    closed = new_lead(chat_id="77")
    with session_scope() as session:
        apply_status(session, lead(closed).idempotency_key, "refused", by="cfa", reason="full")
    assert refusal(closed, "Bonjour") == "lead.relay.refused.closed"
    gone = new_lead(chat_id="78")
    with session_scope() as session:
        session.get(Lead, gone).anonymised_at = NOW
    with pytest.raises(LookupError):  # an anonymised lead is as unknown to its CFA as a missing one
        post(gone, "Bonjour")
    with session_scope() as session:
        assert thread(session, CFA, gone) is None


@pytest.mark.parametrize("db", ["catalogue", "catalogue_postgres"])
def test_a_cfa_cannot_send_more_than_three_messages_without_a_reply_nor_ten_a_day(db, request):
    """Issue 12 review, finding 3: the young person may be a minor; before, no cap at all."""
    request.getfixturevalue(db)
    lead_id = new_lead(chat_id="4242")
    for minute in range(MAX_UNANSWERED):
        post(lead_id, f"Relance {minute}", now=NOW + timedelta(minutes=minute))
    with pytest.raises(RelayRefused) as caught:
        post(lead_id, "Vous êtes là ?", now=NOW + timedelta(minutes=10))
    assert caught.value.key == "lead.relay.refused.unanswered"
    assert caught.value.text.startswith("Vous avez déjà envoyé 3 messages sans réponse du jeune")
    assert len(messages(lead_id)) == MAX_UNANSWERED  # the fourth was not queued

    # The young person answers: the CFA may write again, until ten in 24 hours.
    at = NOW + timedelta(minutes=20)
    while len([m for m in messages(lead_id) if m.direction == "cfa"]) < MAX_PER_DAY:
        with session_scope() as session:
            start_reply(session, "4242", lead_id, at)
        assert reply("4242", "Oui ?", now=at) is not None
        post(lead_id, "Très bien", now=at)
        at += timedelta(minutes=5)
    with session_scope() as session:
        start_reply(session, "4242", lead_id, at)
    reply("4242", "Encore moi", now=at)
    with pytest.raises(RelayRefused) as caught:
        post(lead_id, "Le onzième", now=at)
    assert caught.value.key == "lead.relay.refused.daily" and "10 messages" in caught.value.text
    post(lead_id, "Le lendemain", now=NOW + timedelta(days=1, minutes=1))  # 24 hours after the first
    assert messages(lead_id)[-1].text == "Le lendemain"


@pytest.mark.parametrize("db", ["catalogue", "catalogue_postgres"])
def test_the_bot_relays_with_buttons_and_escaping_then_the_reply_comes_back(db, request):
    request.getfixturevalue(db)
    lead_id = new_lead(chat_id="4242")
    post(lead_id, "Venez mardi <b>9h</b> & apportez votre CV")
    api = FakeBotApi()
    try:
        assert relay_round(api, NOW) == 1
        assert relay_round(api, NOW + timedelta(minutes=5)) == 0  # sent once
    finally:
        api.close()
    (_path, data), = api.sent
    assert data["chat_id"] == "4242" and data["parse_mode"] == "HTML"
    assert data["text"] == (f"✉️ Message de {CFA_NAME} :\n\nVenez mardi &lt;b&gt;9h&lt;/b&gt; &amp; apportez votre CV"
                            "\n\nTu ne veux plus de ses messages ? Appuie sur « 🔕 Ne plus recevoir ses messages »,"
                            " à tout moment.")  # how to stop them, said in the message itself
    keyboard = json.loads(data["reply_markup"])["inline_keyboard"]
    assert [row[0]["text"] for row in keyboard] == ["✏️ Répondre", "🔕 Ne plus recevoir ses messages"]
    assert "lead:relay" not in data["reply_markup"]  # payloads stay server-side (button ids only)
    (message,) = messages(lead_id)
    assert (message.state, message.attempts) == ("sent", 1)

    # "Répondre", then the next text of the chat goes to the CFA.
    with session_scope() as session:
        answer = press_lead_button(session, "4242", f"lead:relay:{lead_id}:reply", NOW)
    assert answer == f"Écris ta réponse pour {CFA_NAME} (ou /annuler)"
    assert reply("4242", "Merci, je serai là !", now=NOW + timedelta(minutes=3)) == f"Envoyé à {CFA_NAME} ✅"
    received = messages(lead_id)[-1]
    assert (received.direction, received.state, received.text) == ("young", "received", "Merci, je serai là !")
    assert lead(lead_id).reply_pending_at is None
    with session_scope() as session:
        kinds = list(session.scalars(select(OutboxMessage.kind).where(
            OutboxMessage.lead_id == lead_id, OutboxMessage.channel == "email")))
        shown = thread(session, CFA, lead_id)
    assert kinds == ["lead", "reply"]  # the CFA is e-mailed the reply
    assert [(m.direction, m.state) for m in shown.messages] == [("cfa", "sent"), ("young", "received")]
    # The next message is the assistant's again.
    assert reply("4242", "c'est quoi l'aide à l'embauche ?", now=NOW + timedelta(minutes=4)) is None


@pytest.mark.parametrize("db", ["catalogue", "catalogue_postgres"])
def test_two_quick_replies_give_two_emails_each_quoting_its_own_reply(db, request):
    """Issue 12 review, finding 4: before, both e-mails quoted the latest reply."""
    request.getfixturevalue(db)
    lead_id = new_lead(chat_id="4242")
    for minute, text in ((1, "Jeudi ça me va"), (2, "Ou plutôt vendredi")):
        with session_scope() as session:
            start_reply(session, "4242", lead_id, NOW + timedelta(minutes=minute))
        reply("4242", text, now=NOW + timedelta(minutes=minute))
    with session_scope() as session:
        rows = list(session.scalars(select(OutboxMessage).where(
            OutboxMessage.lead_id == lead_id, OutboxMessage.kind == "reply").order_by(OutboxMessage.id)))
        found = session.get(Lead, lead_id)
        quoted = [reply_content(session, found, delivery_for(session, CFA, NOW), row).quote.lines[0] for row in rows]
    assert quoted == ["Jeudi ça me va", "Ou plutôt vendredi"]


def test_a_reply_is_awaited_thirty_minutes_and_long_ones_are_refused_without_loss(catalogue):
    lead_id = new_lead(chat_id="4242")
    with session_scope() as session:
        start_reply(session, "4242", lead_id, NOW)
    assert reply("4242", "x" * 1001, now=NOW + timedelta(minutes=1)).startswith("Ton message est trop long")
    assert lead(lead_id).reply_pending_at is not None  # still waiting for the shorter one
    assert reply("4242", command="aide", now=NOW + timedelta(minutes=2)) is None  # other commands: the assistant
    assert reply("4242", "trop tard", now=NOW + timedelta(minutes=31)) is None  # to the assistant
    assert messages(lead_id) == [] and lead(lead_id).reply_pending_at is None


def test_annuler_or_the_button_stops_the_cfa_messages(catalogue):
    lead_id = new_lead(chat_id="4242")
    with session_scope() as session:
        start_reply(session, "4242", lead_id, NOW)
    assert reply("4242", command="annuler", now=NOW + timedelta(minutes=1)) == t("lead.relay.cancelled", cfa=CFA_NAME)
    after = lead(lead_id)
    assert after.relay_stopped_at is not None and after.reply_pending_at is None
    assert refusal(lead_id, "Vous êtes toujours là ?") == "lead.relay.refused.stopped"
    with session_scope() as session:
        assert thread(session, CFA, lead_id).closed == "lead.relay.refused.stopped"
    assert reply("4242", command="annuler", now=NOW + timedelta(minutes=2)) is None  # /annuler is Rasa's again

    other = new_lead(chat_id="5151", cfa_id="mq_lpa_robert")
    post(other, "Bonjour", cfa="mq_lpa_robert")
    with session_scope() as session:
        assert stop_relay(session, "9999", other, NOW) == t("lead.relay.gone")  # not this chat's lead
        assert stop_relay(session, "5151", other, NOW) == t("lead.relay.stopped", cfa="CFA agricole du LPA du Robert")
    with session_scope() as session:  # the message written before the stop is not sent
        assert claim_relay(session, NOW) == []
    (stopped,) = messages(other)
    assert stopped.state == "failed"
    with session_scope() as session:
        assert "arrêté vos messages" in thread(session, "mq_lpa_robert", other).messages[0].failure


def test_a_blocked_bot_fails_at_once_and_is_shown_as_such(catalogue):
    lead_id = new_lead(chat_id="4242")
    post(lead_id, "Bonjour")
    api = FakeBotApi(refuse=(403, "Forbidden: bot was blocked by the user"))
    try:
        assert relay_round(api, NOW) == 0
        assert relay_round(api, NOW + timedelta(days=1)) == 0  # never tried again
    finally:
        api.close()
    (message,) = messages(lead_id)
    assert (message.state, message.attempts) == ("failed", 1) and TOKEN not in message.last_error
    assert message.last_error.startswith(BLOCKED)  # classified by the bot from Telegram's error type
    with session_scope() as session:
        assert thread(session, CFA, lead_id).messages[0].failure == "le jeune a bloqué l'assistant sur Telegram"


def test_a_failure_whose_text_mentions_403_is_not_shown_as_a_blocked_bot(catalogue):
    """Issue 12 review, finding 6: before, "403" or "400" anywhere in the error decided."""
    lead_id = new_lead(chat_id="4242")
    post(lead_id, "Bonjour")
    api = FakeBotApi(refuse=(502, "Bad Gateway: upstream answered 403 after 400 ms"))
    try:
        with session_scope() as session:
            session.scalars(select(LeadMessage)).one().attempts = MAX_ATTEMPTS - 1
        relay_round(api, NOW)
    finally:
        api.close()
    (message,) = messages(lead_id)
    assert message.state == "failed" and "403" in message.last_error
    with session_scope() as session:
        assert thread(session, CFA, lead_id).messages[0].failure == t("lead.relay.failure.other")


def test_a_transient_failure_is_retried_with_back_off_then_given_up(catalogue):
    lead_id = new_lead(chat_id="4242")
    post(lead_id, "Bonjour")
    api = FakeBotApi(refuse=(502, "Bad Gateway"))
    now = NOW
    try:
        relay_round(api, now)
        (message,) = messages(lead_id)
        assert (message.state, message.attempts) == ("pending", 1)
        assert relay_round(api, now) == 0 and messages(lead_id)[0].attempts == 1  # waits its back-off
        with session_scope() as session:  # as if it had failed for two days
            session.get(LeadMessage, message.id).attempts = MAX_ATTEMPTS - 1
        relay_round(api, now + timedelta(hours=2))
    finally:
        api.close()
    (message,) = messages(lead_id)
    assert (message.state, message.attempts) == ("failed", MAX_ATTEMPTS)


# -- the portal partial, served by the real app to a CFA signed in by a magic link ------------------

def login_link(cfa_id: str, email: str) -> str:
    """A magic link's token for ``email``, made one of the CFA's delivery addresses (as the e-mail would carry)."""
    token = secrets.token_urlsafe(32)
    with session_scope() as session:
        session.merge(CfaAccount(cfa_id=cfa_id, emails=[email]))
        session.add(CfaLoginLink(token_hash=token_hash(token), cfa_id=cfa_id, email=email, created_at=utcnow(),
                                 expires_at=utcnow() + timedelta(minutes=30)))
    return token


def signed_in(url: str, cfa_id: str, email: str) -> httpx.Client:
    token = login_link(cfa_id, email)
    client = httpx.Client(base_url=url, timeout=10)
    page = client.get(f"/cfa/lien/{token}")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert client.post(f"/cfa/lien/{token}", data={"csrf_token": csrf}).status_code == 303
    return client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_portal_partial_shows_the_thread_and_refuses_clearly(catalogue, monkeypatch):
    from tests.web.conftest import serve_console

    monkeypatch.setenv("CONSOLE_SECRET", secrets.token_urlsafe(32))

    lead_id = new_lead(chat_id="4242")
    stranger = new_lead(chat_id="5151", cfa_id="mq_lpa_robert")
    with serve_console() as console:
        client = signed_in(console.url, CFA, "leads@croix-rivail.example")
        try:
            partial = client.get(f"/cfa/demandes/{lead_id}/messages")
            assert partial.status_code == 200 and "Aucun message pour l'instant" in partial.text
            csrf = csrf_of(partial.text)
            headers = {"HX-Request": "true"}
            empty = client.post(f"/cfa/demandes/{lead_id}/messages", data={"csrf_token": csrf, "text": " "},
                                headers=headers)
            assert empty.status_code == 200 and "Le message est vide" in empty.text
            too_long = "y" * 501
            answer = client.post(f"/cfa/demandes/{lead_id}/messages",
                                 data={"csrf_token": csrf, "text": too_long}, headers=headers)
            assert "trop long (501 caractères ; 500 au plus)" in answer.text and too_long in answer.text  # kept
            sent = client.post(f"/cfa/demandes/{lead_id}/messages",
                               data={"csrf_token": csrf, "text": "Venez <mardi>"}, headers=headers)
            assert "Venez &lt;mardi&gt;" in sent.text and "en attente" in sent.text
            with session_scope() as session:
                session.add(LeadMessage(lead_id=lead_id, direction="young", text="Merci !", state="received"))
                session.get(Lead, lead_id).relay_stopped_at = utcnow()
            shown = client.get(f"/cfa/demandes/{lead_id}/messages").text
            assert "Réponse du jeune" in shown and "Merci !" in shown
            assert "choisi de ne plus recevoir vos messages" in shown and "<textarea" not in shown
            refused = client.post(f"/cfa/demandes/{lead_id}/messages", data={"csrf_token": csrf, "text": "Allô ?"})
            assert "choisi de ne plus recevoir vos messages" in refused.text
            assert [m.text for m in messages(lead_id)] == ["Venez <mardi>", "Merci !"]
            # Another CFA's lead: the same 404 as an unknown one, and nothing written.
            assert client.get(f"/cfa/demandes/{stranger}/messages").status_code == 404
            assert client.get("/cfa/demandes/999999/messages").status_code == 404
            assert client.post(f"/cfa/demandes/{stranger}/messages",
                               data={"csrf_token": csrf, "text": "Bonjour"}).status_code == 404
            assert messages(stranger) == []
        finally:
            client.close()


def test_the_portal_says_why_a_fourth_message_without_reply_is_refused_and_hides_erased_leads(catalogue, monkeypatch):
    """Issue 12 review, findings 3 and 5: the cap is told in the form (the text kept); an
    anonymised lead's messages answer 404 like its lead page (before: 200)."""
    from tests.web.conftest import serve_console

    monkeypatch.setenv("CONSOLE_SECRET", secrets.token_urlsafe(32))
    lead_id = new_lead(chat_id="4242")
    erased = new_lead(chat_id="5151")
    for minute in range(MAX_UNANSWERED):
        post(lead_id, f"Relance {minute}", now=utcnow() - timedelta(minutes=10 - minute))
    with session_scope() as session:
        session.get(Lead, erased).anonymised_at = utcnow()
    with serve_console() as console:
        client = signed_in(console.url, CFA, "leads@croix-rivail.example")
        try:
            partial = client.get(f"/cfa/demandes/{lead_id}/messages")
            csrf = csrf_of(partial.text)
            refused = client.post(f"/cfa/demandes/{lead_id}/messages",
                                  data={"csrf_token": csrf, "text": "Vous êtes là ?"}, headers={"HX-Request": "true"})
            assert refused.status_code == 200
            assert "Vous avez déjà envoyé 3 messages sans réponse du jeune" in refused.text
            assert ">Vous êtes là ?</textarea>" in refused.text  # kept for later
            assert "Au plus 3 messages de suite sans réponse du jeune, et 10 en 24 heures" in refused.text
            assert len(messages(lead_id)) == MAX_UNANSWERED
            assert client.get(f"/cfa/demandes/{erased}/messages").status_code == 404
            assert client.post(f"/cfa/demandes/{erased}/messages",
                               data={"csrf_token": csrf, "text": "Bonjour"}).status_code == 404
            assert client.get(f"/cfa/demandes/{erased}").status_code == 404  # the lead page agrees
        finally:
            client.close()
