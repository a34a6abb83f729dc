"""Issue 12, section 3: the young person's side of the follow-up loop.

The day-7 question ("Le CFA t'a contacté ?") and its three answers, and the offer of
another CFA (10 working days without an answer, or the CFA paused) with a new consent
naming it. Time is passed in (``now``), never waited for; each time-based step is run
twice, as by a restarted worker, on SQLite and on the real PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from akto_data.cfa.models import CfaAccount
from akto_data.db import session_scope
from akto_data.i18n import text as t
from akto_data.leads.lifecycle import apply_status
from akto_data.leads.models import Lead, LeadMessage, LeadStatusEvent, OutboxMessage
from akto_data.leads.notices import claim_notices
from akto_data.leads.outbox import record_success
from akto_data.leads.store import create_lead
from akto_data.leads.youth import (
    answer_followup,
    answer_reroute,
    press_lead_button,
    queue_youth_steps,
    reroute_consent_version,
)

DBS = ["catalogue", "catalogue_postgres"]


def lead_data(chat_id="42", cfa_id="mq_umih", rome="G1602", **extra):
    """The young person's answers of a lead form (as ``akto_data.leads.form.lead_request`` makes them)."""
    data = {"chat_id": chat_id, "cfa_id": cfa_id, "rome": rome, "training": "CAP Cuisine", "first_name": "Léa",
            "age": 19, "territory": "martinique", "town": "Le Lamentin", "diploma_level": 3,
            "start_when": "rentree", "has_employer": False, "mobility": "none", "contact_channel": "phone",
            "contact_value": "+596696123456", "reasons": ["places", "pay"]}
    data.update(extra)
    return data
#: Monday 7 December 2026, 10:00 UTC: when the lead e-mail reached the CFA.
REACHED = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
CROIX_RIVAIL = "CFA agricole de l'EPLEFPA de Croix-Rivail"
ROBERT = "CFA agricole du LPA du Robert"


def new_lead(chat_id: str = "4242", cfa_id: str = "mq_croix_rivail", rome: str = "A1414",
             reached: datetime | None = REACHED, **extra) -> int:
    """A lead whose e-mail went to the CFA at ``reached`` (as the worker records it)."""
    training = {"A1414": "CAPa Métiers de l'agriculture"}.get(rome, "CAP Cuisine")
    with session_scope() as session:
        lead = create_lead(lead_data(chat_id=chat_id, cfa_id=cfa_id, rome=rome, training=training, **extra), "v1",
                           session=session)
        if reached is not None:
            for row in lead.outbox:
                if row.channel == "email":
                    record_success(row, True, reached)
            apply_status(session, lead.idempotency_key, "sent", by="system", now=reached)
        return lead.id


def run(now: datetime) -> int:
    with session_scope() as session:
        return queue_youth_steps(session, now, followup_days=7)


def telegram_rows(lead_id: int, kind: str | None = None) -> list[OutboxMessage]:
    with session_scope() as session:
        query = select(OutboxMessage).where(OutboxMessage.lead_id == lead_id, OutboxMessage.channel == "telegram")
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        return list(session.scalars(query.order_by(OutboxMessage.id)))


def emails(lead_id: int) -> list[str]:
    with session_scope() as session:
        return list(session.scalars(select(OutboxMessage.kind).where(
            OutboxMessage.lead_id == lead_id, OutboxMessage.channel == "email").order_by(OutboxMessage.id)))


def lead(lead_id: int) -> Lead:
    with session_scope() as session:
        found = session.get(Lead, lead_id)
        assert found is not None
        session.expunge(found)
        return found


def claim(now: datetime):
    with session_scope() as session:
        return claim_notices(session, now)


def press(chat_id: str, payload: str, now: datetime) -> str:
    with session_scope() as session:
        return press_lead_button(session, chat_id, payload, now)


# -- the day-7 question ----------------------------------------------------------------------------

@pytest.mark.parametrize("db", DBS)
def test_day_7_question_is_queued_once_seven_days_after_the_lead_reached_the_cfa(db, request):
    request.getfixturevalue(db)
    lead_id = new_lead()
    assert run(REACHED + timedelta(days=7) - timedelta(minutes=1)) == 0
    assert telegram_rows(lead_id) == []

    day7 = REACHED + timedelta(days=7)
    assert run(day7) == 1
    assert run(day7) == 0  # a restarted worker
    assert run(day7 + timedelta(hours=3)) == 0  # the next rounds
    (row,) = telegram_rows(lead_id)
    assert (row.kind, row.dedup_key, row.state) == ("followup", f"followup:{lead_id}", "pending")
    assert lead(lead_id).followup_asked_at is not None

    # What the bot sends: the question naming the CFA and the training, three buttons of ours.
    (question,) = claim(day7)
    assert question.chat_id == "4242"
    assert question.text == t("lead.followup.question", cfa=CROIX_RIVAIL, training="CAPa Métiers de l'agriculture")
    assert "Le CFA t'a contacté ?" in question.text
    assert [title for title, _ in question.buttons] == ["✅ Oui", "⏳ Pas encore", "🚫 Plus intéressé·e"]
    assert [payload for _, payload in question.buttons] == [
        f"lead:followup:{lead_id}:yes", f"lead:followup:{lead_id}:not_yet", f"lead:followup:{lead_id}:stop"]


@pytest.mark.parametrize("db", DBS)
def test_no_day_7_question_when_the_cfa_answered_or_nothing_waits(db, request):
    request.getfixturevalue(db)
    answered = new_lead(chat_id="1")
    with session_scope() as session:
        apply_status(session, lead(answered).idempotency_key, "contacted", by="cfa", now=REACHED + timedelta(days=1))
    written = new_lead(chat_id="2")
    with session_scope() as session:
        session.add(LeadMessage(lead_id=written, direction="cfa", text="Bonjour", state="sent"))
    read_only = new_lead(chat_id="3")  # "read" is not an answer: this one is asked
    with session_scope() as session:
        apply_status(session, lead(read_only).idempotency_key, "read", by="cfa", now=REACHED + timedelta(days=1))
    console = new_lead(chat_id="console-lea")
    never_sent = new_lead(chat_id="5", reached=None)
    withdrawn = new_lead(chat_id="6")
    with session_scope() as session:
        apply_status(session, lead(withdrawn).idempotency_key, "withdrawn", by="user", now=REACHED)

    assert run(REACHED + timedelta(days=8)) == 1
    assert [lid for lid in (answered, written, read_only, console, never_sent, withdrawn)
            if telegram_rows(lid, "followup")] == [read_only]


@pytest.mark.parametrize("db", DBS)
def test_yes_records_contacted_by_the_young_person(db, request):
    request.getfixturevalue(db)
    lead_id = new_lead()
    run(REACHED + timedelta(days=7))
    now = REACHED + timedelta(days=7, hours=2)
    answer = press("4242", f"lead:followup:{lead_id}:yes", now)
    assert answer == t("lead.followup.thanks", cfa=CROIX_RIVAIL)
    after = lead(lead_id)
    assert (after.status, after.followup_answer) == ("contacted", "yes")
    with session_scope() as session:
        last = session.scalars(select(LeadStatusEvent).where(LeadStatusEvent.lead_id == lead_id)
                               .order_by(LeadStatusEvent.id.desc())).first()
        assert (last.status, last.by) == ("contacted", "user")
    assert emails(lead_id) == ["lead"]  # the CFA is not e-mailed for it
    # Pressed again (a second keyboard, a replayed update): a clear answer, nothing changes.
    assert press("4242", f"lead:followup:{lead_id}:stop", now) == t("lead.followup.already", cfa=CROIX_RIVAIL)
    assert lead(lead_id).status == "contacted" and emails(lead_id) == ["lead"]
    # Answered "contacted": no offer of another CFA later.
    assert run(REACHED + timedelta(days=30)) == 0


@pytest.mark.parametrize("db", DBS)
def test_not_yet_nudges_the_cfa_naming_it(db, request):
    request.getfixturevalue(db)
    lead_id = new_lead()
    run(REACHED + timedelta(days=7))
    answer = press("4242", f"lead:followup:{lead_id}:not_yet", REACHED + timedelta(days=7, hours=1))
    assert answer == t("lead.followup.nudged", cfa=CROIX_RIVAIL) and answer.startswith(f"On a relancé {CROIX_RIVAIL}")
    assert emails(lead_id) == ["lead", "nudge"]
    assert (lead(lead_id).status, lead(lead_id).followup_answer) == ("sent", "not_yet")
    press("4242", f"lead:followup:{lead_id}:not_yet", REACHED + timedelta(days=7, hours=2))
    assert emails(lead_id) == ["lead", "nudge"]  # one nudge per answer, not per press


@pytest.mark.parametrize("db", DBS)
def test_no_longer_interested_closes_the_lead_and_tells_the_cfa(db, request):
    request.getfixturevalue(db)
    lead_id = new_lead()
    run(REACHED + timedelta(days=7))
    answer = press("4242", f"lead:followup:{lead_id}:stop", REACHED + timedelta(days=7, hours=1))
    assert answer == t("lead.followup.withdrawn", cfa=CROIX_RIVAIL) and "close" in answer
    assert (lead(lead_id).status, lead(lead_id).followup_answer) == ("withdrawn", "stop")
    assert emails(lead_id) == ["lead", "withdrawn"]
    assert run(REACHED + timedelta(days=30)) == 0  # closed: no offer of another CFA


def test_a_button_of_another_chat_or_an_erased_lead_changes_nothing(catalogue):
    lead_id = new_lead()
    run(REACHED + timedelta(days=7))
    now = REACHED + timedelta(days=7, hours=1)
    assert press("9999", f"lead:followup:{lead_id}:stop", now) == t("lead.followup.gone")
    assert press("4242", "lead:followup:notanumber:stop", now) == t("lead.followup.gone")
    assert press("4242", f"lead:followup:{lead_id}:maybe", now) == t("lead.followup.gone")
    assert (lead(lead_id).status, lead(lead_id).followup_answer) == ("sent", None)
    with session_scope() as session:
        session.get(Lead, lead_id).anonymised_at = now
    assert press("4242", f"lead:followup:{lead_id}:stop", now) == t("lead.followup.gone")
    assert press("4242", f"lead:reroute:{lead_id}:yes", now) == t("lead.reroute.gone")
    assert emails(lead_id) == ["lead"]


def test_the_question_is_not_sent_when_the_cfa_answered_meanwhile(catalogue):
    lead_id = new_lead()
    run(REACHED + timedelta(days=7))
    with session_scope() as session:
        apply_status(session, lead(lead_id).idempotency_key, "interview", by="cfa", now=REACHED + timedelta(days=7))
    questions = [n for n in claim(REACHED + timedelta(days=7, minutes=1)) if n.buttons]
    assert questions == []
    assert [r.state for r in telegram_rows(lead_id, "followup")] == ["skipped"]


# -- the offer of another CFA ---------------------------------------------------------------------

#: 10 working days of Martinique after Monday 7 December 2026: Monday 21 December 10:00 UTC.
TEN_WORKING_DAYS = datetime(2026, 12, 21, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("db", DBS)
def test_offer_of_another_cfa_after_ten_working_days_and_accepted(db, request):
    request.getfixturevalue(db)
    lead_id = new_lead()
    run(REACHED + timedelta(days=7))  # the day-7 question
    press("4242", f"lead:followup:{lead_id}:not_yet", REACHED + timedelta(days=7, hours=1))
    assert run(TEN_WORKING_DAYS - timedelta(minutes=1)) == 0  # 14 calendar days, not yet 10 working days
    assert run(TEN_WORKING_DAYS) == 1
    assert run(TEN_WORKING_DAYS) == 0  # restarted worker
    (offer,) = telegram_rows(lead_id, "reroute")
    assert (offer.dedup_key, offer.payload) == (f"reroute:{lead_id}", {"cfa_id": "mq_lpa_robert"})
    assert lead(lead_id).reroute_offered_at is not None

    (question,) = [n for n in claim(TEN_WORKING_DAYS) if n.outbox_id == offer.id]
    assert question.text.startswith(f"{CROIX_RIVAIL} n'a pas encore répondu")
    assert f"{ROBERT} (Le Robert), avec « BP Responsable d'entreprise agricole »" in question.text
    assert t("lead.reroute.consent", other=ROBERT) in question.text  # the consent names the new CFA
    assert question.buttons == ((f"✅ Oui, envoyer à {ROBERT}", f"lead:reroute:{lead_id}:yes"),
                                ("Non merci", f"lead:reroute:{lead_id}:no"))

    accepted_at = TEN_WORKING_DAYS + timedelta(hours=1)
    assert press("4242", f"lead:reroute:{lead_id}:yes", accepted_at) == t("lead.reroute.sent", other=ROBERT)
    with session_scope() as session:
        new = session.scalars(select(Lead).where(Lead.rerouted_from_id == lead_id)).one()
        old = session.get(Lead, lead_id)
        assert (new.cfa_id, new.training, new.chat_id, new.rome) == (
            "mq_lpa_robert", "BP Responsable d'entreprise agricole", "4242", "A1414")
        assert (new.first_name, new.contact_value, new.reasons) == (old.first_name, old.contact_value, old.reasons)
        assert new.consent_version == reroute_consent_version() != old.consent_version
        assert new.status == "new" and [m.kind for m in new.outbox] == ["lead"]  # goes to the new CFA
        new_id = new.id
    assert lead(lead_id).status == "rerouted"
    assert emails(lead_id) == ["lead", "nudge", "rerouted"]  # the first CFA is told
    # Pressed again: nothing more.
    assert press("4242", f"lead:reroute:{lead_id}:yes", accepted_at) == t("lead.reroute.already")
    with session_scope() as session:
        assert session.scalar(select(func.count(Lead.id))) == 2
    # The new lead is a lead like another: its own day-7 question later, and no offer of the first CFA back.
    with session_scope() as session:
        for row in session.get(Lead, new_id).outbox:
            record_success(row, True, accepted_at)
    run(accepted_at + timedelta(days=30))
    assert telegram_rows(new_id, "reroute") == []


def test_declined_offer_sends_nothing_and_is_noted(catalogue):
    lead_id = new_lead()
    assert run(TEN_WORKING_DAYS) == 2  # day-7 question and offer, both due
    now = TEN_WORKING_DAYS + timedelta(hours=1)
    assert press("4242", f"lead:reroute:{lead_id}:no", now) == t("lead.reroute.declined", cfa=CROIX_RIVAIL)
    (offer,) = telegram_rows(lead_id, "reroute")
    assert offer.payload["answer"] == "no"
    assert lead(lead_id).status == "sent" and emails(lead_id) == ["lead"]
    with session_scope() as session:
        assert session.scalar(select(func.count(Lead.id))) == 1
    assert press("4242", f"lead:reroute:{lead_id}:yes", now) == t("lead.reroute.already")
    with session_scope() as session:
        assert session.scalar(select(func.count(Lead.id))) == 1


@pytest.mark.parametrize("db", DBS)
def test_no_offer_when_no_other_cfa_matches(db, request):
    request.getfixturevalue(db)
    alone = new_lead(chat_id="7", cfa_id="mq_umih", rome="G1602")  # the only cuisine CFA of Martinique
    asked_both = new_lead(chat_id="8")
    new_lead(chat_id="8", cfa_id="mq_lpa_robert")  # already asked the other one too
    run(TEN_WORKING_DAYS + timedelta(days=5))
    assert telegram_rows(alone, "reroute") == [] and telegram_rows(asked_both, "reroute") == []
    assert lead(alone).reroute_offered_at is None


@pytest.mark.parametrize("db", DBS)
def test_a_paused_cfa_gets_its_waiting_leads_offered_at_once(db, request):
    request.getfixturevalue(db)
    lead_id = new_lead(reached=None)  # not even delivered yet
    now = REACHED + timedelta(hours=1)
    assert run(now) == 0
    with session_scope() as session:
        session.add(CfaAccount(cfa_id="mq_croix_rivail", paused_at=now, paused_by="staff@akto.example",
                               pause_reason="ne répond pas"))
    assert run(now) == 1
    assert run(now) == 0
    (offer,) = telegram_rows(lead_id, "reroute")
    assert offer.payload == {"cfa_id": "mq_lpa_robert"}
    # A paused CFA is never offered: with the other one paused too, nothing can be accepted.
    with session_scope() as session:
        session.add(CfaAccount(cfa_id="mq_lpa_robert", paused_at=now))
    assert press("4242", f"lead:reroute:{lead_id}:yes", now) == t("lead.reroute.unavailable", other=ROBERT)
    assert lead(lead_id).status == "new"


def test_answer_functions_refuse_other_chats(catalogue):
    lead_id = new_lead()
    run(TEN_WORKING_DAYS)
    with session_scope() as session:
        assert answer_reroute(session, "1", lead_id, True) == t("lead.reroute.gone")
        assert answer_followup(session, "1", lead_id, "yes") == t("lead.followup.gone")
    assert lead(lead_id).status == "sent"


def test_two_workers_at_once_ask_once_on_postgresql(catalogue_postgres):
    """Two workers on the same due lead: the second waits for the first's commit, then asks nothing."""
    import threading

    lead_id = new_lead()
    day7 = REACHED + timedelta(days=7)
    results: list[int] = []
    with session_scope() as first:
        assert queue_youth_steps(first, day7, followup_days=7) == 1  # not committed yet
        second = threading.Thread(target=lambda: results.append(run(day7)))
        second.start()
        second.join(1.0)
        assert second.is_alive()  # waits on the lead's row
    second.join(10)
    assert results == [0]
    assert len(telegram_rows(lead_id, "followup")) == 1


# -- cost of the worker's round (issue 12 review, finding 2) ----------------------------------------

def statements_of_a_round(now: datetime) -> int:
    """How many SQL statements one round of the young person's steps runs."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    count = 0

    def counted(*_args) -> None:
        nonlocal count
        count += 1

    event.listen(Engine, "before_cursor_execute", counted)
    try:
        run(now)
    finally:
        event.remove(Engine, "before_cursor_execute", counted)
    return count


@pytest.mark.parametrize("db", DBS)
def test_the_minute_round_costs_the_same_with_one_waiting_lead_or_twenty(db, request):
    """Before, every open lead was loaded every minute, its outbox lazy-loaded and two
    queries run for it, whether or not anything could be due."""
    request.getfixturevalue(db)
    new_lead(chat_id="100")
    now = REACHED + timedelta(days=3)  # nothing due yet: no question, no offer
    alone = statements_of_a_round(now)
    for n in range(12):
        new_lead(chat_id=str(200 + n))  # reached the CFA, waiting
    for n in range(7):
        new_lead(chat_id=str(300 + n), reached=None)  # never reached the CFA
    assert statements_of_a_round(now) == alone
    assert run(now) == 0


@pytest.mark.parametrize("db", DBS)
def test_a_lead_with_no_other_cfa_is_looked_at_again_once_a_day_and_offered_when_one_appears(db, request):
    request.getfixturevalue(db)
    lead_id = new_lead()
    with session_scope() as session:  # the only other CFA is paused: nothing to offer
        session.add(CfaAccount(cfa_id="mq_lpa_robert", paused_at=REACHED, paused_by="staff@akto.example",
                               pause_reason="ne répond pas"))
    run(TEN_WORKING_DAYS)
    assert telegram_rows(lead_id, "reroute") == []
    with session_scope() as session:
        session.get(CfaAccount, "mq_lpa_robert").paused_at = None  # resumed
    run(TEN_WORKING_DAYS + timedelta(hours=1))
    assert telegram_rows(lead_id, "reroute") == []  # not matched again within the day (was: every minute)
    run(TEN_WORKING_DAYS + timedelta(days=1))
    (offer,) = telegram_rows(lead_id, "reroute")  # the next day, the resumed CFA is offered
    assert offer.payload == {"cfa_id": "mq_lpa_robert"}
