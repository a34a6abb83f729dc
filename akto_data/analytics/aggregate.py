"""Incremental aggregation of Rasa's events and of the leads' statuses into counts.

Sources, each read from its last processed row id (:class:`AnalyticsCursor`):

- Rasa's ``events`` table (its SQL tracker store, same database by default): user
  messages (intent), answers, actions, and three slots (territory, quiz progress).
- ``app_lead_status``: a lead created (consent given), sent to the CFA (delivered),
  opened by the CFA (read or any later CFA status), contacted (contacted or enrolled).

How counts stay exact without keeping anybody's id: the counts of one young person
for one period (a day or an ISO week) are a function of that person's events
(:func:`contribution`). When new events of a person arrive, their contribution is
computed from the events already counted (read back from the tracker store, only for
the people in the batch) and from those events plus the new ones; the difference is
added to the counters. So distinct counts (people, conversations, funnel steps) are
exact, a person is attributed to one territory per period (the latest one they gave
in that period, "" before they say), and the analytics tables never hold a chat id.

Idempotent: the counters and the cursor move in one transaction; the cursor row is
locked (``FOR UPDATE`` on PostgreSQL; SQLite has one writer) and moved by a
compare-and-set, so two runs at once never count a row twice. Retention deleting old
events changes nothing already counted: counters are only ever added to. Rows are read
only once they are ``SETTLE`` old, so a row id committed late by a concurrent
transaction (PostgreSQL sequences) is not skipped.

Rasa's event broker (issue 14) publishes ``event.as_dict()`` plus ``sender_id``: the
same dict :func:`event_from_dict` reads. :func:`apply_events` takes such dicts from
either source, with a history function giving each person's already-counted events.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from akto_data.analytics.models import AnalyticsCount, AnalyticsCursor
from akto_data.leads.models import Lead, LeadStatusEvent
from akto_data.models import as_utc, utcnow
from akto_data.personal_data import RASA_EVENTS, has_rasa_events

EVENTS_SOURCE = "rasa_events"
LEADS_SOURCE = "lead_status"
#: Rows younger than this are left for the next run (late commits, see the module doc).
SETTLE = timedelta(seconds=60)
#: Rows read per batch.
BATCH = 5000
#: Slots the aggregation reads (all others are skipped without parsing).
SLOTS_READ = ("territory", "quiz_progress")
FALLBACK_INTENT = "nlu_fallback"
FEEDBACK = {"feedback_positive": "feedback_up", "feedback_negative": "feedback_down"}
#: Funnel steps, in order: the first four from the conversations (young people), the
#: last four from the leads (requests).
FUNNEL = ("start", "quiz_done", "occupation_card", "lead_form", "consent", "delivered", "opened", "contacted")
#: Lead statuses that reach each lead step.
LEAD_STEPS = {"consent": {"new"}, "delivered": {"sent"},
              "opened": {"read", "contacted", "not_reachable", "enrolled"}, "contacted": {"contacted", "enrolled"}}
PERIODS = ("day", "week")

CountKey = tuple[str, date, str, str, str]  # period, start, territory, metric, key


@dataclass(frozen=True, slots=True)
class Event:
    """What the aggregation needs of one Rasa event (no text, no metadata)."""

    sender: str
    kind: str
    at: float
    intent: str | None = None
    action: str | None = None
    slot: str | None = None
    value: Any = None


def event_from_dict(data: dict[str, Any]) -> Event | None:
    """An event as Rasa's broker publishes it (``as_dict()`` plus ``sender_id``)."""
    kind, sender, at = data.get("event"), data.get("sender_id"), data.get("timestamp")
    if not kind or sender is None or at is None:
        return None
    if kind == "user":
        intent = ((data.get("parse_data") or {}).get("intent") or {}).get("name")
        return Event(str(sender), "user", float(at), intent=intent)
    if kind == "action":
        return Event(str(sender), "action", float(at), action=data.get("name"))
    if kind == "slot":
        return Event(str(sender), "slot", float(at), slot=data.get("name"), value=data.get("value"))
    return Event(str(sender), str(kind), float(at))


def row_to_dict(sender: str, type_name: str, timestamp: float | None, intent: str | None, action: str | None,
                data: str | None) -> dict[str, Any]:
    """A tracker-store row as the broker's dict; only slots we read are parsed (fast)."""
    if type_name == "slot" and data and any(f'"{name}"' in data for name in SLOTS_READ):
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = {}
        if isinstance(parsed, dict):
            return {**parsed, "event": "slot", "sender_id": sender, "timestamp": timestamp}
    return {"event": type_name, "sender_id": sender, "timestamp": timestamp, "name": action,
            "parse_data": {"intent": {"name": intent}}}


_EPOCH = date(1970, 1, 1).toordinal()


@lru_cache(maxsize=4096)
def _day_start(day_number: int, period: str) -> date:
    day = date.fromordinal(_EPOCH + day_number)
    return day - timedelta(days=day.weekday()) if period == "week" else day


def period_start(moment: float | datetime, period: str) -> date:
    """First day (UTC) of the day or ISO week holding ``moment``."""
    if not isinstance(moment, datetime):
        return _day_start(int(moment // 86400), period)
    day = as_utc(moment).astimezone(UTC).date()
    return day - timedelta(days=day.weekday()) if period == "week" else day


def contribution(events: Sequence[Event], period: str, start: date) -> Counter[tuple[str, str, str]]:
    """Counts of one young person for one period: ``(territory, metric, key) -> value``."""
    territory: str = ""
    at_end = ""
    session = 0
    sessions: set[int] = set()
    last_action: str | None = None
    last_topic = "inconnu"
    first_user: float | None = None
    counts: Counter[tuple[str, str]] = Counter()
    steps: set[str] = set()
    for event in events:
        inside = period_start(event.at, period) == start
        if event.kind == "session_started":
            session += 1
        elif event.kind == "slot" and event.slot == "territory" and event.value:
            territory = str(event.value)[:32]
        if event.kind == "user":
            first_user = event.at if first_user is None else first_user
            intent = event.intent or "inconnu"
            if inside:
                counts["user_messages", ""] += 1
                counts["topic", intent[:64]] += 1
                sessions.add(session)
                if intent == FALLBACK_INTENT:
                    counts["fallbacks", ""] += 1
                if intent in FEEDBACK:
                    counts[FEEDBACK[intent], last_topic[:64]] += 1
            if intent not in FEEDBACK:
                last_topic = intent
        elif event.kind == "action":
            last_action = event.action
            if inside and event.action == "action_occupation_card":
                steps.add("occupation_card")
            elif inside and event.action == "action_lead_intro":
                steps.add("lead_form")
        elif event.kind == "bot" and inside:
            counts["bot_messages", ""] += 1
        elif (inside and event.kind == "slot" and event.slot == "quiz_progress" and event.value is None
              and last_action == "action_quiz"):
            steps.add("quiz_done")
        if inside:
            at_end = territory
    if counts["user_messages", ""]:
        counts["users", ""] = 1
        counts["conversations", ""] = len(sessions)
        new = first_user is not None and period_start(first_user, period) == start
        counts["new_users" if new else "returning_users", ""] = 1
        steps.add("start")
    for step in steps:
        counts["funnel", step] = 1
    return Counter({(at_end, metric, key): value for (metric, key), value in counts.items() if value})


History = Callable[[Iterable[str]], dict[str, list[Event]]]


def apply_events(session: Session, events: Iterable[dict[str, Any]], history: History) -> int:
    """Add the counts of new events (broker-shaped dicts, oldest first) to the counters.

    ``history(senders)`` gives, for each sender, the events already counted, oldest
    first. Returns how many events were read.
    """
    new: dict[str, list[Event]] = defaultdict(list)
    read = 0
    for data in events:
        event = event_from_dict(data)
        read += 1
        if event is not None:
            new[event.sender].append(event)
    if not new:
        return read
    prior = history(new.keys())
    deltas: Counter[CountKey] = Counter()
    for sender, added in new.items():
        before = prior.get(sender, [])
        after = [*before, *added]
        for period in PERIODS:
            for start in sorted({period_start(e.at, period) for e in added}):
                delta = contribution(after, period, start)
                if before:
                    delta.subtract(contribution(before, period, start))
                for (territory, metric, key), value in delta.items():
                    if value:
                        deltas[period, start, territory, metric, key] += value
    add_counts(session, deltas)
    return read


def add_counts(session: Session, deltas: Counter[CountKey]) -> None:
    rows = [{"period": p, "start": s, "territory": t, "metric": m, "key": k, "value": v}
            for (p, s, t, m, k), v in deltas.items() if v]
    if not rows:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(AnalyticsCount)
    statement = statement.on_conflict_do_update(
        index_elements=["period", "start", "territory", "metric", "key"],
        set_={"value": AnalyticsCount.value + statement.excluded.value})
    for chunk in range(0, len(rows), 2000):
        session.execute(statement, rows[chunk:chunk + 2000])


# -- cursors ---------------------------------------------------------------------------

class ConcurrentRun(Exception):
    """Another run moved the cursor first: this one's transaction must be rolled back."""


@dataclass
class Cursor:
    last_id: int
    last_at: float | None
    max_at: float | None


def _lock_cursor(session: Session, source: str) -> Cursor:
    query = select(AnalyticsCursor).where(AnalyticsCursor.source == source).with_for_update()
    row = session.scalars(query).first()
    if row is None:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(insert(AnalyticsCursor).values(source=source, last_id=0, updated_at=utcnow())
                        .on_conflict_do_nothing(index_elements=["source"]))
        row = session.scalars(query).one()
    return Cursor(int(row.last_id), row.last_at, row.max_at)


def _move_cursor(session: Session, source: str, old: int, new: Cursor, now: datetime) -> None:
    moved = session.execute(update(AnalyticsCursor).where(AnalyticsCursor.source == source,
                                                          AnalyticsCursor.last_id == old)
                            .values(last_id=new.last_id, last_at=new.last_at, max_at=new.max_at, updated_at=now)
                            .execution_options(synchronize_session=False))
    if getattr(moved, "rowcount", 1) != 1:
        raise ConcurrentRun(source)


def _epoch(moment: float | datetime | None) -> float | None:
    if moment is None or isinstance(moment, (int, float)):
        return moment
    return as_utc(moment).timestamp()


def _rewind(session: Session, id_column: Any, at_column: Any, cursor: Cursor) -> Cursor:
    """Step back to the last counted row when the row at the cursor changed.

    SQLite gives a new row ``max(id) + 1``: when the newest rows are deleted (a young
    person erases a conversation that was just counted), their ids go to the next rows,
    below the cursor. Those rows are newer than anything counted (``max_at``), the
    counted ones are not: walking down from the cursor (primary key, a few rows) finds
    the last counted row.
    """
    if cursor.last_id == 0:
        return cursor
    at = session.execute(select(at_column).where(id_column == cursor.last_id)).first()
    if at is not None and _epoch(at[0]) == cursor.last_at:
        return cursor
    for row_id, row_at in session.execute(select(id_column, at_column).where(id_column <= cursor.last_id)
                                          .order_by(id_column.desc())):
        moment = _epoch(row_at)
        if moment is None or cursor.max_at is None or moment <= cursor.max_at:
            return Cursor(int(row_id), moment, cursor.max_at)
    return Cursor(0, None, cursor.max_at)


def _advance(cursor: Cursor, last_id: int, times: Iterable[float | None]) -> Cursor:
    known = [t for t in times if t is not None]
    last_at = known[-1] if known else None
    highest = max([*known, *([cursor.max_at] if cursor.max_at is not None else [])], default=None)
    return Cursor(last_id, last_at, highest)


def last_update(session: Session) -> datetime | None:
    moment = session.scalar(select(AnalyticsCursor.updated_at).where(AnalyticsCursor.source == EVENTS_SOURCE))
    return as_utc(moment) if moment is not None else None


# -- Rasa's events ---------------------------------------------------------------------

def tracker_history(session: Session, up_to: int) -> History:
    """Already-counted events of some senders, read back from the tracker store (id <= ``up_to``)."""
    events = RASA_EVENTS.c

    def load(senders: Iterable[str]) -> dict[str, list[Event]]:
        found: dict[str, list[Event]] = defaultdict(list)
        wanted = list(senders)
        for chunk in range(0, len(wanted), 500):
            rows = session.execute(
                select(events.sender_id, events.type_name, events.timestamp, events.intent_name,
                       events.action_name, events.data)
                .where(events.sender_id.in_(wanted[chunk:chunk + 500]), events.id <= up_to).order_by(events.id))
            for row in rows:
                event = event_from_dict(row_to_dict(*row))
                if event is not None:
                    found[event.sender].append(event)
        return found

    return load


def process_events(session: Session, now: datetime, batch: int = BATCH, settle: timedelta = SETTLE) -> int:
    """One batch of new tracker-store rows; returns how many rows were counted."""
    if not has_rasa_events(session):
        return 0
    events = RASA_EVENTS.c
    stored = _lock_cursor(session, EVENTS_SOURCE)
    cursor = _rewind(session, events.id, events.timestamp, stored)
    rows = session.execute(select(events.id, events.sender_id, events.type_name, events.timestamp,
                                  events.intent_name, events.action_name, events.data)
                           .where(events.id > cursor.last_id).order_by(events.id).limit(batch)).all()
    limit = (now - settle).timestamp()
    taken = []
    for row in rows:
        if row.timestamp is not None and row.timestamp > limit:
            break  # too recent: this row and everything after it wait for the next run
        taken.append(row)
    if taken:
        apply_events(session, (row_to_dict(*row[1:]) for row in taken), tracker_history(session, cursor.last_id))
        cursor = _advance(cursor, int(taken[-1].id), (row.timestamp for row in taken))
    _move_cursor(session, EVENTS_SOURCE, stored.last_id, cursor, now)
    return len(taken)


# -- leads -------------------------------------------------------------------------------

def process_leads(session: Session, now: datetime, batch: int = BATCH, settle: timedelta = SETTLE) -> int:
    """One batch of new lead statuses; each lead counts once per step, on the day it got there."""
    stored = _lock_cursor(session, LEADS_SOURCE)
    cursor = _rewind(session, LeadStatusEvent.id, LeadStatusEvent.at, stored)
    rows = session.execute(select(LeadStatusEvent.id, LeadStatusEvent.lead_id, LeadStatusEvent.status,
                                  LeadStatusEvent.at, Lead.territory)
                           .join(Lead, Lead.id == LeadStatusEvent.lead_id)
                           .where(LeadStatusEvent.id > cursor.last_id).order_by(LeadStatusEvent.id).limit(batch)).all()
    limit = (now - settle).timestamp()
    taken = list(rows)
    for index, row in enumerate(rows):
        if (_epoch(row.at) or 0) > limit:
            taken = list(rows[:index])
            break
    if taken:
        reached: dict[int, set[str]] = defaultdict(set)
        lead_ids = sorted({row.lead_id for row in taken})
        for chunk in range(0, len(lead_ids), 500):
            for lead_id, status in session.execute(
                    select(LeadStatusEvent.lead_id, LeadStatusEvent.status)
                    .where(LeadStatusEvent.lead_id.in_(lead_ids[chunk:chunk + 500]),
                           LeadStatusEvent.id <= cursor.last_id)):
                reached[lead_id] |= {step for step, statuses in LEAD_STEPS.items() if status in statuses}
        deltas: Counter[CountKey] = Counter()
        for row in taken:
            for step, statuses in LEAD_STEPS.items():
                if row.status in statuses and step not in reached[row.lead_id]:
                    reached[row.lead_id].add(step)
                    for period in PERIODS:
                        deltas[period, period_start(row.at, period), row.territory or "", "funnel", step] += 1
        add_counts(session, deltas)
        cursor = _advance(cursor, int(taken[-1].id), (_epoch(row.at) for row in taken))
    _move_cursor(session, LEADS_SOURCE, stored.last_id, cursor, now)
    return len(taken)


# -- runs ----------------------------------------------------------------------------------

@dataclass
class RunResult:
    events: int = 0
    statuses: int = 0
    caught_up: bool = True


def refresh(session: Session, now: datetime | None = None, max_rows: int = 50_000, batch: int = BATCH,
            settle: timedelta = SETTLE) -> RunResult:
    """Count what is new, in the caller's unit of work, up to ``max_rows`` rows per source."""
    now = now or utcnow()
    result = RunResult()
    events, events_done = _drain(lambda: process_events(session, now, batch, settle), batch, max_rows)
    statuses, statuses_done = _drain(lambda: process_leads(session, now, batch, settle), batch, max_rows)
    result.events, result.statuses, result.caught_up = events, statuses, events_done and statuses_done
    return result


def _drain(process: Callable[[], int], batch: int, max_rows: int) -> tuple[int, bool]:
    """Run ``process`` (one batch of one source) until a short batch; (rows, caught up)."""
    rows = 0
    while rows < max_rows:
        done = process()
        rows += done
        if done < batch:
            return rows, True
    return rows, False


def run_until_caught_up(now: datetime | None = None, batch: int = BATCH, settle: timedelta = SETTLE) -> RunResult:
    """The periodic job (outbox worker's housekeeping, ``python -m akto_data.analytics.aggregate``):
    one transaction per batch, until nothing new is left."""
    from akto_data.db import session_scope

    now = now or utcnow()
    total = RunResult()
    while True:
        with session_scope() as session:
            step = refresh(session, now, max_rows=batch, batch=batch, settle=settle)
        total.events += step.events
        total.statuses += step.statuses
        if step.caught_up:
            return total


def main() -> None:
    parser = argparse.ArgumentParser(description="Met à jour les statistiques (nouveaux événements seulement).")
    parser.parse_args()
    from akto_data.db import ensure_schema

    ensure_schema()
    result = run_until_caught_up()
    print(f"{result.events} événements et {result.statuses} statuts de demandes comptés.")


if __name__ == "__main__":
    main()
