"""Live takeover core (issue 11, section 5): the queue, duty and office hours, what happens
to the young person's messages, silence, and delivery of the advisor's messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from akto_data.db import session_scope
from akto_data.i18n import text as t
from akto_data.leads.outbox import SendFailed
from akto_data.settings import load_settings
from akto_data.staff.accounts import create_account
from akto_data.takeover import core
from akto_data.takeover.models import TakeoverMessage, TakeoverRequest

CHAT = "880001"
#: Saturday 5 December 2026, 15:00 in Martinique (UTC-4).
SATURDAY = datetime(2026, 12, 5, 19, 0, tzinfo=UTC)
#: Tuesday 1 December 2026, 10:00 in Martinique.
TUESDAY_MORNING = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def advisor(session, email: str, territories: list[str], role: str = "advisor") -> core.Advisor:
    account = create_account(session, email=email, name=f"Conseiller {email[:3]}", role=role,
                             password="un-mot-de-passe-solide", territories=territories, actor="test")
    session.flush()
    return core.Advisor(account.id, account.name, account.role, tuple(account.territories or ()))


@pytest.fixture
def people(catalogue):
    with session_scope() as session:
        return {"mq": advisor(session, "mq@akto.example", ["martinique"]),
                "gp": advisor(session, "gp@akto.example", ["guadeloupe"])}


def test_off_duty_the_young_person_is_told_when_someone_answers(people):
    settings = load_settings()
    with session_scope() as session:
        outcome = core.request_takeover(session, CHAT, "martinique", core.ASKED, SATURDAY, settings)
    assert not outcome.on_duty
    assert "lundi 7 décembre à partir de 8 h" in outcome.text
    assert "du lundi au vendredi, de 8 h à 17 h" in outcome.text
    with session_scope() as session:  # within the hours, nobody there: later today
        text = core.request_takeover(session, CHAT, "martinique", core.ASKED, TUESDAY_MORNING, settings).text
    assert t("takeover.when.soon") in text
    # 18:00 local on Tuesday: tomorrow at 8.
    evening = TUESDAY_MORNING + timedelta(hours=8)
    assert core.next_opening(evening, "martinique", "America/Martinique", settings) == datetime(
        2026, 12, 2, 12, 0, tzinfo=UTC)
    # Public holiday: 25 December 2026 is a Friday, the next opening is Monday 28.
    christmas_eve_evening = datetime(2026, 12, 24, 23, 0, tzinfo=UTC)
    assert core.next_opening(christmas_eve_evening, "martinique", "America/Martinique", settings).date().day == 28


def test_an_advisor_on_duty_and_present_for_the_territory_counts(people):
    now = TUESDAY_MORNING
    with session_scope() as session:
        core.set_duty(session, people["gp"].id, True, now)  # another territory
        assert not core.request_takeover(session, CHAT, "martinique", core.ASKED, now).on_duty
        core.set_duty(session, people["mq"].id, True, now)
        outcome = core.request_takeover(session, CHAT, "martinique", core.ASKED, now)
        assert outcome.on_duty and outcome.text == t("takeover.requested.on_duty")
        # The page closed more than a minute ago: not there any more.
        assert core.advisors_on_duty(session, "martinique", now + core.PRESENCE + timedelta(seconds=1)) == 0
        core.mark_present(session, people["mq"].id, now + timedelta(minutes=5))
        assert core.advisors_on_duty(session, "martinique", now + timedelta(minutes=5)) == 1
        # A territory nobody knows: any advisor on duty answers.
        assert core.advisors_on_duty(session, None, now) == 2


def test_one_request_per_chat_and_each_advisor_sees_only_their_territories(people):
    with session_scope() as session:
        first = core.request_takeover(session, CHAT, "martinique", core.FALLBACK)
        again = core.request_takeover(session, CHAT, "martinique", core.ASKED)
        core.request_takeover(session, "880002", None, core.ASKED)
        assert first.request_id == again.request_id
        assert session.get(TakeoverRequest, first.request_id).reason == core.ASKED
        seen_mq = [r.chat_id for r in core.queue(session, people["mq"])]
        seen_gp = [r.chat_id for r in core.queue(session, people["gp"])]
        staff = core.Advisor(999, "Équipe", "staff", ())
        assert seen_mq == [CHAT, "880002"] and seen_gp == ["880002"]
        assert len(core.queue(session, staff)) == 2
        with pytest.raises(core.TakeoverError):
            core.take(session, first.request_id, people["gp"])


def test_messages_during_a_takeover_go_to_the_advisor_and_annuler_ends_it(people):
    with session_scope() as session:
        request_id = core.request_takeover(session, CHAT, "martinique", core.ASKED).request_id
        assert core.route_incoming(session, CHAT, "encore moi", None) is core.Routing.ASSISTANT  # still waiting
        core.take(session, request_id, people["mq"])
        with pytest.raises(core.TakeoverError, match="déjà reprise"):
            core.take(session, request_id, core.Advisor(999, "Autre", "staff", ()))
        assert core.route_incoming(session, CHAT, "vous êtes là ?", None) is core.Routing.TO_ADVISOR
        core.reply(session, request_id, people["mq"], "Oui, je t'écoute")
        with pytest.raises(core.TakeoverError, match="Écris un message"):
            core.reply(session, request_id, people["mq"], "   ")
        texts = [(m.sender, m.text) for m in session.get(TakeoverRequest, request_id).messages]
        assert texts == [("system", t("takeover.started", name="Conseiller")), ("young", "vous êtes là ?"),
                         ("advisor", "Oui, je t'écoute")]
        assert core.route_incoming(session, CHAT, None, "annuler") is core.Routing.ENDED
        assert core.route_incoming(session, CHAT, "merci", None) is core.Routing.ASSISTANT
        second = core.request_takeover(session, CHAT, "martinique", core.ASKED).request_id
        assert second != request_id
        assert core.route_incoming(session, CHAT, None, "annuler") is core.Routing.WITHDRAWN
        assert core.queue(session, people["mq"]) == []


def test_silence_gives_the_chat_back_to_the_assistant(people):
    start = TUESDAY_MORNING
    with session_scope() as session:
        request_id = core.request_takeover(session, CHAT, "martinique", core.ASKED, start).request_id
        core.take(session, request_id, people["mq"], start)
        core.route_incoming(session, CHAT, "je réfléchis", None, start + timedelta(minutes=10))
        assert core.close_silent(session, start + timedelta(minutes=39), timedelta(minutes=30)) == []
        assert core.close_silent(session, start + timedelta(minutes=41), timedelta(minutes=30)) == [request_id]
        request = session.get(TakeoverRequest, request_id)
        assert (request.state, request.closed_by) == (core.CLOSED, "silence")
        assert request.messages[-1].text == t("takeover.ended.silence", minutes=30)


def test_advisor_messages_are_claimed_once_and_retried(people):
    now = TUESDAY_MORNING
    with session_scope() as session:
        request_id = core.request_takeover(session, CHAT, "martinique", core.ASKED, now).request_id
        core.take(session, request_id, people["mq"], now)
        core.reply(session, request_id, people["mq"], "Bonjour <b>toi</b>", now)
    with session_scope() as session:
        claimed = core.claim_outgoing(session, now)
        assert [m.text for m in claimed] == [t("takeover.started", name="Conseiller"), "Bonjour <b>toi</b>"]
        assert core.claim_outgoing(session, now) == []  # leased
        core.record_outgoing(session, claimed[0].message_id, now, None)
        core.record_outgoing(session, claimed[1].message_id, now, SendFailed("Telegram NetworkError"))
    with session_scope() as session:
        assert core.claim_outgoing(session, now + timedelta(seconds=1)) == []
        retried = core.claim_outgoing(session, now + timedelta(seconds=3))
        assert [m.message_id for m in retried] == [claimed[1].message_id]
        core.record_outgoing(session, retried[0].message_id, now, SendFailed("Telegram 403", permanent=True))
        states = {m.id: m.delivery for m in session.query(TakeoverMessage)}
        assert states == {claimed[0].message_id: core.SENT, claimed[1].message_id: core.FAILED}


# -- the actions that put a chat in the queue ---------------------------------------------------

def _tracker(sender: str, texts_intents: list[tuple[str, str]], territory: str | None = "martinique"):
    from rasa_sdk import Tracker

    events = [{"event": "user", "text": text, "parse_data": {
        "text": text, "intent": {"name": intent, "confidence": 0.4}, "entities": [],
        "intent_ranking": [{"name": intent, "confidence": 0.4}]}} for text, intent in texts_intents]
    return Tracker(sender, {"territory": territory}, events[-1]["parse_data"], events, False, None, {}, "")


async def test_two_misses_in_a_row_put_the_chat_in_the_queue_silently(people):
    from rasa_sdk.executor import CollectingDispatcher

    from actions.fallback import ActionFallback

    dispatcher = CollectingDispatcher()
    await ActionFallback().run(dispatcher, _tracker(CHAT, [("blabla", "nlu_fallback")]), {"responses": {}})
    with session_scope() as session:
        assert core.open_request(session, CHAT) is None  # one miss: not yet
    await ActionFallback().run(dispatcher, _tracker(CHAT, [("blabla", "nlu_fallback"), ("bof", "nlu_fallback")]),
                               {"responses": {}})
    with session_scope() as session:
        request = core.open_request(session, CHAT)
        assert request is not None and (request.reason, request.territory) == (core.FALLBACK, "martinique")
        assert [r.chat_id for r in core.queue(session, people["mq"])] == [CHAT]
    assert [m.get("response") for m in dispatcher.messages][-1] == "utter_fallback_options"


async def test_asking_for_a_human_records_the_request_and_says_when(people):
    from rasa_sdk.executor import CollectingDispatcher

    from actions.human import ActionRequestHuman

    dispatcher = CollectingDispatcher()
    await ActionRequestHuman().run(dispatcher, _tracker(CHAT, [("un conseiller svp", "request_human")], None), {})
    assert "Aucun conseiller AKTO n'est disponible" in dispatcher.messages[0]["text"]
    with session_scope() as session:
        request = core.open_request(session, CHAT)
        assert request is not None and request.territory is None and request.reason == core.ASKED
        assert [r.chat_id for r in core.queue(session, people["gp"])] == [CHAT]  # unknown territory: everyone
    # The terminal chat of make run cannot be taken over: the CFA option instead, nothing queued.
    dispatcher = CollectingDispatcher()
    await ActionRequestHuman().run(dispatcher, _tracker("console-lea", [("un conseiller", "request_human")]), {})
    assert dispatcher.messages[0]["text"] == t("takeover.requested.not_here")
