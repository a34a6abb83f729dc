"""Analytics aggregation: counts equal to the seeded conversations, incremental, idempotent,
unchanged by retention, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert, select

from akto_data.analytics import aggregate, report, synthetic
from akto_data.analytics.models import AnalyticsCount, AnalyticsCursor
from akto_data.db import get_engine, session_scope
from akto_data.personal_data import RASA_EVENTS, RasaEventStore, Retention

FIRST_DAY = date(2026, 9, 1)
LATER = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite_db", "postgres_db"])
def db(request: pytest.FixtureRequest) -> Iterator[Engine]:
    request.getfixturevalue(request.param)
    engine = get_engine()
    RASA_EVENTS.drop(engine, checkfirst=True)
    RASA_EVENTS.create(engine)
    yield engine
    RASA_EVENTS.drop(engine, checkfirst=True)


def counters(period: str = "day") -> Counter[tuple[date, str, str, str]]:
    with session_scope() as session:
        rows = session.execute(select(AnalyticsCount.start, AnalyticsCount.territory, AnalyticsCount.metric,
                                      AnalyticsCount.key, AnalyticsCount.value)
                               .where(AnalyticsCount.period == period, AnalyticsCount.value != 0)).all()
    return Counter({(start, territory, metric, key): value for start, territory, metric, key, value in rows})


def seed(engine: Engine, specs: list[synthetic.Spec]) -> None:
    with engine.begin() as connection:
        synthetic.store(connection, specs)


def run(now: datetime = LATER, batch: int = 97) -> aggregate.RunResult:
    return aggregate.run_until_caught_up(now=now, batch=batch, settle=timedelta(seconds=60))


def test_counts_match_the_seeded_conversations_per_day_and_week(db: Engine) -> None:
    specs = synthetic.make_specs(400, FIRST_DAY, 20, returning_share=0.3)
    assert len({s.sender for s in specs}) < len(specs), "some young people come back"
    seed(db, specs)
    result = run()  # small batches: conversations are cut between batches
    assert result.events == sum(len(synthetic.rows(s)) for s in specs)
    assert counters("day") == synthetic.expected(specs, "day")
    assert counters("week") == synthetic.expected(specs, "week")


def test_incremental_and_idempotent(db: Engine) -> None:
    specs = synthetic.make_specs(300, FIRST_DAY, 10, returning_share=0.4)
    half = len(specs) // 2
    seed(db, specs[:half])
    run()
    assert counters() == synthetic.expected(specs[:half])
    # a second run with nothing new changes nothing
    assert run().events == 0
    assert counters() == synthetic.expected(specs[:half])
    # the rest arrives (returning young people among them): only it is read
    seed(db, specs[half:])
    assert run().events == sum(len(synthetic.rows(s)) for s in specs[half:])
    assert counters() == synthetic.expected(specs)
    assert counters("week") == synthetic.expected(specs, "week")


def test_a_conversation_split_across_runs_counts_its_person_once(db: Engine) -> None:
    spec = synthetic.Spec("700000001", datetime(2026, 9, 3, 10, tzinfo=UTC), None, ["ask_pay", "ask_aids"],
                          quiz=True, says_territory=False)
    rows = synthetic.rows(spec)
    with db.begin() as connection:
        connection.execute(RASA_EVENTS.insert(), rows[:9])
    run()
    before = counters()
    assert before[date(2026, 9, 3), "", "users", ""] == 1
    # the young person then says where they live: the day moves to their territory
    spec.territory, spec.says_territory = "guyane", True
    later = synthetic.rows(spec)
    with db.begin() as connection:
        connection.execute(RASA_EVENTS.insert(), rows[9:])
        connection.execute(RASA_EVENTS.insert(), [r for r in later if '"territory"' in (r["data"] or "")
                                                  and r["type_name"] == "slot"])
    run()
    after = counters()
    day = date(2026, 9, 3)
    assert after[day, "guyane", "users", ""] == 1 and (day, "", "users", "") not in after
    assert after[day, "guyane", "conversations", ""] == 1
    assert after[day, "guyane", "funnel", "quiz_done"] == 1
    assert after[day, "guyane", "new_users", ""] == 1


def test_recent_rows_wait_until_they_settle(db: Engine) -> None:
    now = datetime(2026, 9, 5, 12, tzinfo=UTC)
    spec = synthetic.Spec("700000002", now - timedelta(seconds=20), "martinique", ["ask_pay"])
    seed(db, [spec])
    assert run(now=now).events == 0
    assert run(now=now + timedelta(minutes=5)).events == len(synthetic.rows(spec))


def test_retention_deleting_events_leaves_the_counted_history(db: Engine) -> None:
    old = synthetic.make_specs(60, date(2026, 1, 5), 5, returning_share=0)
    seed(db, old)
    run()
    counted = counters()
    with session_scope() as session:
        removed = RasaEventStore().expire(session, datetime(2026, 12, 1, tzinfo=UTC),
                                          Retention(timedelta(days=180), timedelta(days=90), timedelta(days=730)))
    assert removed == sum(len(synthetic.rows(s)) for s in old)
    # one of them comes back after the retention period: a new young person, history unchanged
    back = synthetic.Spec(old[0].sender, datetime(2026, 12, 2, 9, tzinfo=UTC), old[0].territory, ["ask_aids"])
    seed(db, [back])
    run()
    now_counted = counters()
    assert {k: v for k, v in now_counted.items() if k[0] < date(2026, 12, 1)} == counted
    assert now_counted[date(2026, 12, 2), back.territory or "", "new_users", ""] == 1, {k: v for k, v in now_counted.items() if k[0] >= date(2026, 12, 1)}


def test_two_runs_at_once_never_double_count(db: Engine) -> None:
    specs = synthetic.make_specs(40, FIRST_DAY, 3)
    seed(db, specs)
    with session_scope() as session:
        aggregate.process_events(session, LATER)
    # a run that read the cursor before the other one moved it is refused
    with session_scope() as session:
        with pytest.raises(aggregate.ConcurrentRun):
            aggregate._move_cursor(session, aggregate.EVENTS_SOURCE, 0, aggregate.Cursor(10, None, None), LATER)
        session.rollback()
    assert counters() == synthetic.expected(specs)
    with session_scope() as session:
        cursor = session.get(AnalyticsCursor, aggregate.EVENTS_SOURCE)
        assert cursor is not None and cursor.last_id == max(
            session.scalars(select(RASA_EVENTS.c.id)))


def test_broker_events_count_like_tracker_rows(db: Engine) -> None:
    """The same function consumes Rasa's broker messages (``as_dict()`` + ``sender_id``)."""
    specs = synthetic.make_specs(50, FIRST_DAY, 4, returning_share=0.3)
    history: dict[str, list[aggregate.Event]] = {}
    with session_scope() as session:
        for spec in specs:
            published = [{**json.loads(row["data"]), "sender_id": row["sender_id"]} for row in synthetic.rows(spec)]
            aggregate.apply_events(session, published, lambda senders: {s: list(history.get(s, [])) for s in senders})
            for data in published:
                event = aggregate.event_from_dict(data)
                assert event is not None
                history.setdefault(event.sender, []).append(event)
    assert counters() == synthetic.expected(specs)


def test_lead_funnel_counts_each_lead_once_per_step(db: Engine) -> None:
    created = datetime(2026, 9, 7, 9, tzinfo=UTC)
    with db.begin() as connection:
        synthetic.store_leads(connection, [
            ("martinique", created, ["sent", "read", "contacted", "enrolled"]),
            ("martinique", created, ["sent", "contacted"]),
            ("guadeloupe", created, ["sent"]),
            ("guadeloupe", created, []),
        ])
    run()
    day = date(2026, 9, 7)
    got = {k: v for k, v in counters().items() if k[2] == "funnel"}
    assert got == {(day, "martinique", "funnel", "consent"): 2, (day, "martinique", "funnel", "delivered"): 2,
                   (day, "martinique", "funnel", "opened"): 2, (day, "martinique", "funnel", "contacted"): 2,
                   (day, "guadeloupe", "funnel", "consent"): 2, (day, "guadeloupe", "funnel", "delivered"): 1}


def test_report_and_formula_safe_csv(db: Engine) -> None:
    specs = synthetic.make_specs(120, FIRST_DAY, 7)
    seed(db, specs)
    run()
    with db.begin() as connection:  # a topic name a spreadsheet would run, were it not neutralised
        connection.execute(insert(AnalyticsCount), [{
            "period": "day", "start": FIRST_DAY, "territory": "martinique", "metric": "topic",
            "key": '=HYPERLINK("http://evil.example")', "value": 1000}])
    names = {t: t.title() for t in synthetic.TERRITORIES}
    filters = report.parse_filters("day", FIRST_DAY.isoformat(), (FIRST_DAY + timedelta(days=6)).isoformat(), None,
                                   names, FIRST_DAY)
    with session_scope() as session:
        built = report.build(session, filters, names)
    expected = synthetic.expected(specs)
    assert sum(row["conversations"] for row in built.series) == len(specs)  # type: ignore[misc]
    assert built.totals["users"] == sum(v for k, v in expected.items() if k[2] == "users")
    header, rows = report.table_rows(built, "sujets")
    text = report.to_csv(header, rows)
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text
    with pytest.raises(report.ReportError) as bad:
        report.parse_filters("day", "2026-13-45", None, "atlantide", names, FIRST_DAY)
    assert set(bad.value.errors) == {"from", "territory"}


def test_rows_after_an_erased_latest_conversation_are_counted(db: Engine) -> None:
    """SQLite gives the ids of deleted top rows to the next rows: they are below the cursor."""
    first = synthetic.Spec("700000010", datetime(2026, 9, 2, 9, tzinfo=UTC), "martinique", ["ask_pay"])
    erased = synthetic.Spec("700000011", datetime(2026, 9, 2, 10, tzinfo=UTC), "guadeloupe", ["ask_aids", "ask_pay"])
    seed(db, [first, erased])
    run()
    with session_scope() as session:  # /supprimer right after the conversation was counted
        RasaEventStore().erase(session, erased.sender)
    after = synthetic.Spec("700000012", datetime(2026, 9, 2, 11, tzinfo=UTC), "reunion", ["ask_contract"])
    seed(db, [after])
    run()
    assert counters() == synthetic.expected([first, erased, after])
