"""The CFA's time-based steps, with a clock the test moves: reminders after 2 and 5 working
days of the CFA's territory (its holidays, its time zone), the weekly digest, and each step
queued once — on a second run, by a restarted worker, or by two workers at once — on
SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from akto_data.db import session_scope
from akto_data.leads.delivery import OutboxWorker, SmtpSettings
from akto_data.leads.followup import open_leads, queue_cfa_steps
from akto_data.leads.lifecycle import add_working_days, apply_status, working_days_between
from akto_data.leads.models import Lead, LeadMessage, OutboxMessage
from akto_data.leads.store import create_lead
from tests.unit.test_lead_delivery import free_port, lead_data

DBS = ["catalogue", "catalogue_postgres"]
#: Thursday 21 May 2026, 10:00 in Martinique and Guadeloupe (UTC-4).
THURSDAY = datetime(2026, 5, 21, 14, tzinfo=UTC)


def reached(moment: datetime, cfa_id: str = "mq_umih", rome: str = "G1602", chat_id: str = "42",
            territory: str = "martinique") -> int:
    """A lead whose e-mail reached the CFA at ``moment``; its id."""
    lead = create_lead(lead_data(cfa_id=cfa_id, rome=rome, chat_id=chat_id, territory=territory), "v1")
    with session_scope() as session:
        row = session.get(Lead, lead.id)
        row.status = "sent"
        email = next(m for m in row.outbox if m.channel == "email")
        email.state, email.sent_at = "sent", moment
    return lead.id


def run(now: datetime) -> int:
    with session_scope() as session:
        return queue_cfa_steps(session, now)


def keys(kind: str) -> list[str]:
    with session_scope() as session:
        return list(session.scalars(select(OutboxMessage.dedup_key).where(OutboxMessage.kind == kind)
                                    .order_by(OutboxMessage.id)))


@pytest.mark.parametrize("db", DBS)
def test_reminder_1_after_2_and_reminder_2_after_5_working_days_of_martinique(db, request):
    request.getfixturevalue(db)
    lead = reached(THURSDAY)
    # Friday 22 May is Martinique's abolition day, Monday 25 Pentecost Monday: working days are
    # Tuesday 26 (1), Wednesday 27 (2), Thursday 28, Friday 29, Monday 1 June (5).
    run(datetime(2026, 5, 27, 13, 59, tzinfo=UTC))
    assert keys("reminder") == []
    run(datetime(2026, 5, 27, 14, 1, tzinfo=UTC))
    assert keys("reminder") == [f"reminder:1:{lead}"]
    run(datetime(2026, 5, 27, 18, tzinfo=UTC))  # a second run the same day
    run(datetime(2026, 6, 1, 13, 59, tzinfo=UTC))
    assert keys("reminder") == [f"reminder:1:{lead}"]
    run(datetime(2026, 6, 1, 14, 1, tzinfo=UTC))
    run(datetime(2026, 6, 3, 14, tzinfo=UTC))
    assert keys("reminder") == [f"reminder:1:{lead}", f"reminder:2:{lead}"]  # and never a third
    with session_scope() as session:
        row = session.get(Lead, lead)
        assert row.reminders_sent == 2 and row.reminded_at is not None


@pytest.mark.parametrize("db", DBS)
def test_each_territory_counts_its_own_holidays(db, request):
    request.getfixturevalue(db)
    martinique = reached(THURSDAY)
    # Guadeloupe: Friday 22 May works, its abolition day is Wednesday 27 May.
    guadeloupe = reached(THURSDAY, cfa_id="gp_urma", territory="guadeloupe")
    run(datetime(2026, 5, 26, 14, 1, tzinfo=UTC))
    assert keys("reminder") == [f"reminder:1:{guadeloupe}"]
    run(datetime(2026, 5, 27, 14, 1, tzinfo=UTC))
    assert keys("reminder") == [f"reminder:1:{guadeloupe}", f"reminder:1:{martinique}"]
    # Guadeloupe's 5th working day: Tuesday 26 (2), Thursday 28, Friday 29, Monday 1 June (5).
    run(datetime(2026, 6, 1, 14, 1, tzinfo=UTC))
    assert f"reminder:2:{guadeloupe}" in keys("reminder")
    # La Réunion (UTC+4): Monday 20 December 2027 is its abolition day.
    friday = datetime(2027, 12, 17, 6, tzinfo=UTC)  # 10:00 there
    reunion = reached(friday, cfa_id="re_urma", rome="D1102", territory="reunion")
    other = reached(friday, cfa_id="mq_cma", rome="D1102")  # Martinique works on 20 December
    run(datetime(2027, 12, 21, 6, 1, tzinfo=UTC))  # Tuesday: 2 working days in Martinique, 1 in La Réunion
    assert f"reminder:1:{other}" in keys("reminder") and f"reminder:1:{reunion}" not in keys("reminder")
    run(datetime(2027, 12, 22, 6, 1, tzinfo=UTC))
    assert f"reminder:1:{reunion}" in keys("reminder")


def test_working_days_are_counted_in_the_territory_time_zone(catalogue):
    # Friday 27 November 2026, 23:00 in Martinique = Saturday 03:00 UTC.
    friday_night = datetime(2026, 11, 28, 3, tzinfo=UTC)
    lead = reached(friday_night)
    run(datetime(2026, 12, 1, 12, tzinfo=UTC))  # Tuesday noon UTC: 1 working day there
    assert keys("reminder") == []
    run(datetime(2026, 12, 2, 3, 1, tzinfo=UTC))  # Tuesday 23:01 in Martinique
    assert keys("reminder") == [f"reminder:1:{lead}"]
    assert working_days_between(friday_night, datetime(2026, 12, 2, 3, 1, tzinfo=UTC), "martinique",
                                "America/Martinique", whole=True) == 2
    assert working_days_between(friday_night, datetime(2026, 12, 2, 2, 59, tzinfo=UTC), "martinique",
                                "America/Martinique", whole=True) == 1


def test_a_worker_stopped_for_days_sends_the_latest_reminder_only_and_none_too_late(catalogue):
    late = reached(THURSDAY)
    run(datetime(2026, 6, 2, 15, tzinfo=UTC))  # 6 working days: reminder 2, not 1 then 2
    assert keys("reminder") == [f"reminder:2:{late}"]
    # After 10 working days the young person is offered another CFA: no reminder any more.
    reached(THURSDAY, cfa_id="mq_cma", rome="D1102")
    run(datetime(2026, 6, 9, 15, tzinfo=UTC))
    assert keys("reminder") == [f"reminder:2:{late}"]


def test_an_answer_a_message_or_a_closed_lead_stops_the_reminders(catalogue):
    ids = {name: reached(THURSDAY, cfa_id=cfa, rome=rome, chat_id=name) for name, cfa, rome in [
        ("read", "mq_umih", "G1602"), ("contacted", "mq_umih", "G1603"), ("message", "mq_cma", "D1102"),
        ("withdrawn", "mq_cma", "D1103"), ("anonymised", "mq_umih", "G1803")]}
    with session_scope() as session:
        key = {lead_id: session.get(Lead, lead_id).idempotency_key for lead_id in ids.values()}
        apply_status(session, key[ids["read"]], "read")  # opened, not answered: still reminded
        apply_status(session, key[ids["contacted"]], "contacted")
        session.add(LeadMessage(lead_id=ids["message"], direction="cfa", text="Bonjour, appelez-nous.",
                                state="sent"))
        apply_status(session, key[ids["withdrawn"]], "withdrawn", by="user")
        session.get(Lead, ids["anonymised"]).anonymised_at = THURSDAY
    run(datetime(2026, 5, 27, 14, 1, tzinfo=UTC))
    assert keys("reminder") == [f"reminder:1:{ids['read']}"]


@pytest.mark.parametrize("db", DBS)
def test_weekly_digest_on_monday_from_8_local_once_per_week_to_cfas_with_open_leads(db, request):
    request.getfixturevalue(db)
    reached(datetime(2026, 12, 1, 14, tzinfo=UTC))  # mq_umih
    reached(datetime(2026, 12, 1, 14, tzinfo=UTC), cfa_id="gp_urma", territory="guadeloupe")
    reached(datetime(2026, 12, 1, 14, tzinfo=UTC), cfa_id="re_urma", rome="D1102", territory="reunion")
    closed = reached(datetime(2026, 12, 1, 14, tzinfo=UTC), cfa_id="mq_cma", rome="D1102")
    with session_scope() as session:
        apply_status(session, session.get(Lead, closed).idempotency_key, "enrolled")
    # Monday 7 December 2026: 08:00 is 04:00 UTC in La Réunion, 12:00 UTC in the Antilles.
    run(datetime(2026, 12, 7, 3, 59, tzinfo=UTC))
    assert keys("digest") == []
    run(datetime(2026, 12, 7, 4, tzinfo=UTC))
    assert keys("digest") == ["digest:re_urma:2026-W50"]
    run(datetime(2026, 12, 7, 11, 59, tzinfo=UTC))
    run(datetime(2026, 12, 7, 12, tzinfo=UTC))
    run(datetime(2026, 12, 8, 12, tzinfo=UTC))  # Tuesday: already sent this week
    assert keys("digest") == ["digest:re_urma:2026-W50", "digest:gp_urma:2026-W50", "digest:mq_umih:2026-W50"]
    with session_scope() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "digest")).all()
        assert {(r.lead_id, r.cfa_id, r.channel) for r in rows} == {
            (None, "re_urma", "email"), (None, "gp_urma", "email"), (None, "mq_umih", "email")}
    run(datetime(2026, 12, 14, 12, tzinfo=UTC))  # next Monday
    assert sorted(keys("digest")[3:]) == ["digest:gp_urma:2026-W51", "digest:mq_umih:2026-W51",
                                           "digest:re_urma:2026-W51"]


def test_digest_waits_for_the_first_working_day_and_skips_weekends(catalogue):
    reached(datetime(2027, 3, 22, 14, tzinfo=UTC))
    run(datetime(2027, 3, 29, 12, 30, tzinfo=UTC))  # Easter Monday 2027, 08:30 in Martinique
    assert keys("digest") == []
    run(datetime(2027, 3, 30, 11, 59, tzinfo=UTC))
    assert keys("digest") == []
    run(datetime(2027, 3, 30, 12, tzinfo=UTC))  # Tuesday 08:00
    assert keys("digest") == ["digest:mq_umih:2027-W13"]
    run(datetime(2027, 4, 10, 12, tzinfo=UTC))  # a Saturday: never on a weekend
    assert keys("digest") == ["digest:mq_umih:2027-W13"]
    run(datetime(2027, 4, 8, 12, tzinfo=UTC))  # Thursday of week 14, worker down until then: caught up
    assert keys("digest") == ["digest:mq_umih:2027-W13", "digest:mq_umih:2027-W14"]


def test_open_leads_for_the_digest_waiting_first_with_their_age(catalogue):
    old = reached(datetime(2026, 11, 23, 14, tzinfo=UTC), chat_id="1")  # Monday
    answered = reached(datetime(2026, 11, 20, 14, tzinfo=UTC), rome="G1603", chat_id="2")
    recent = reached(datetime(2026, 12, 2, 14, tzinfo=UTC), rome="G1803", chat_id="3")
    with session_scope() as session:
        apply_status(session, session.get(Lead, answered).idempotency_key, "interview")
        listed = open_leads(session, "mq_umih", datetime(2026, 12, 7, 12, tzinfo=UTC))
        assert [(item.lead.id, item.age, item.waiting) for item in listed] == [
            (old, 9, True), (recent, 2, True), (answered, 10, False)]


@pytest.mark.parametrize("db", DBS)
def test_two_workers_at_once_queue_each_step_once(db, request):
    request.getfixturevalue(db)
    leads = [reached(THURSDAY, chat_id=str(n), rome=rome) for n, rome in enumerate(("G1602", "G1603", "G1803"))]
    monday = datetime(2026, 6, 1, 14, 1, tzinfo=UTC)  # reminder 2 due for each, and the weekly digest
    second: list[int] = []

    def other_worker() -> None:
        with session_scope() as session:
            second.append(queue_cfa_steps(session, monday))

    with session_scope() as session:
        first = queue_cfa_steps(session, monday)
        thread = threading.Thread(target=other_worker)
        thread.start()
        thread.join(timeout=1.5)
        assert thread.is_alive()  # it waits on the first worker's locks...
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert first == 4 and second == [0]  # ...then finds every step taken
    assert sorted(keys("reminder")) == sorted(f"reminder:2:{lead}" for lead in leads)
    assert keys("digest") == ["digest:mq_umih:2026-W23"]
    # Two workers started together, many times: still once each.
    later = datetime(2026, 6, 8, 14, tzinfo=UTC)
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def racer() -> None:
        barrier.wait()
        with session_scope() as session:
            counts.append(queue_cfa_steps(session, later))

    threads = [threading.Thread(target=racer) for _ in range(2)]
    for each in threads:
        each.start()
    for each in threads:
        each.join(timeout=30)
    assert sorted(counts) == [0, 1]
    assert keys("digest") == ["digest:mq_umih:2026-W23", "digest:mq_umih:2026-W24"]


@pytest.mark.parametrize("db", DBS)
def test_the_worker_housekeeping_runs_the_schedule_and_a_restarted_worker_queues_nothing_again(db, request):
    request.getfixturevalue(db)
    lead = reached(THURSDAY)
    now = datetime(2026, 5, 27, 14, 1, tzinfo=UTC)
    OutboxWorker(SmtpSettings(port=free_port(), timeout=1), clock=lambda: now).housekeeping()
    OutboxWorker(SmtpSettings(port=free_port(), timeout=1), clock=lambda: now + timedelta(minutes=1)).housekeeping()
    assert keys("reminder") == [f"reminder:1:{lead}"]
    assert add_working_days(THURSDAY, 2, "martinique", "America/Martinique") <= now
