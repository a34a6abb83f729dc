"""CFA-side time-based steps: reminders after 2 and 5 working days without an answer, weekly digest.

Run by :func:`akto_data.leads.schedule.run_schedule` from the outbox worker's
housekeeping, with the clock passed in (tests move it; nothing here sleeps).

Working days are the CFA's: counted in its territory's time zone (``cat_territory``),
skipping weekends and the territory's public holidays (22 May in Martinique, 27 May in
Guadeloupe, 20 December in La Réunion… :func:`akto_data.leads.lifecycle.public_holidays`).

- **Reminders.** A lead "reached the CFA" when its first lead e-mail was sent. Without an
  answer (a status of ``ANSWERED``, or any message from the CFA) the CFA gets reminder 1
  after 2 working days and reminder 2 after 5. A worker that was stopped for days sends
  the latest step due, not both at once. Closed or anonymised leads get nothing, and no
  reminder goes out after :data:`REMINDER_UNTIL` working days (the young person is then
  offered another CFA: a reminder would come too late).
- **Digest.** Once per ISO week, each CFA with at least one open lead gets the list of
  its open leads, from 08:00 on the first working day of the week (Monday, or Tuesday
  after Easter Monday…) in its territory; a worker down that morning catches up later in
  the week, until Friday. A week whose working days all passed without one is skipped:
  the next Monday's digest comes soon.
- A CFA paused by AKTO still gets reminders and digests for the leads it already has
  (the young people are still waiting on it); pausing only stops new leads (matching).

Idempotence: a reminder is a compare-and-set on ``Lead.reminders_sent``
(``UPDATE … WHERE reminders_sent = n``) and its outbox row carries a unique
``dedup_key``, inserted with ``ON CONFLICT DO NOTHING`` in the same transaction; the
digest's key names the CFA and the ISO week. A second run, a restarted worker, or two
workers at once (PostgreSQL row locks; SQLite's single writer) never queue a step twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from akto_data.catalogue.tables import CatCfa, CatTerritory
from akto_data.cfa.settings import delivery_for
from akto_data.leads.lifecycle import ANSWERED, CLOSED, add_working_days, public_holidays, working_days_between
from akto_data.leads.models import Lead, LeadMessage, OutboxMessage
from akto_data.leads.outbox import PENDING, SENT
from akto_data.models import as_utc

#: (reminder number, working days after the lead reached the CFA without an answer).
REMINDER_STEPS = ((1, 2), (2, 5))
#: No reminder once this many working days passed: the young person is offered another CFA.
REMINDER_UNTIL = 10
#: Local hour from which the weekly digest is due, on the first working day of the ISO week.
DIGEST_HOUR = 8

Calendar = tuple[str | None, str]  # (territory for the holidays, IANA time zone)


@dataclass(frozen=True)
class OpenLead:
    """A lead still open for its CFA, as the digest lists it."""

    lead: Lead
    #: When it reached the CFA (first lead e-mail sent), else when it was made.
    received_at: datetime
    #: Working days since then, in the CFA's territory.
    age: int
    #: No answer yet (no answering status, no message from the CFA).
    waiting: bool


def cfa_calendar(session: Session, cfa_id: str, fallback: str | None = None,
                 cache: dict[str, Calendar] | None = None) -> Calendar:
    """The CFA's territory and time zone (its own territory, else the lead's, else UTC)."""
    if cache is not None and cfa_id in cache:
        return cache[cfa_id]
    cfa = session.get(CatCfa, cfa_id)
    place = cfa.territory if cfa is not None else fallback
    zone = session.get(CatTerritory, place) if place else None
    result = (place, zone.timezone if zone is not None else "UTC")
    if cache is not None:
        cache[cfa_id] = result
    return result


def first_email_sent(channels: tuple[str, ...] = ("email",)) -> Select[int | None, datetime | None]:
    """(lead_id, sent_at) of each lead's first lead delivery on ``channels`` that went through, in
    SQL (one subquery, no per-lead load of the outbox). Reminders and the digest count the
    e-mail (they go by e-mail); the young person's steps count a webhook call too (a CFA
    without an address is reached by its webhook)."""
    return (select(OutboxMessage.lead_id, func.min(OutboxMessage.sent_at).label("sent_at"))
            .where(OutboxMessage.kind == "lead", OutboxMessage.channel.in_(channels), OutboxMessage.state == SENT,
                   OutboxMessage.lead_id.is_not(None))
            .group_by(OutboxMessage.lead_id))


def _cfa_wrote() -> Any:
    return select(LeadMessage.id).where(LeadMessage.lead_id == Lead.id, LeadMessage.direction == "cfa").exists()


def queue_once(session: Session, **values: Any) -> bool:
    """Insert an outbox row unless one with its ``dedup_key`` exists; True when inserted.

    ``ON CONFLICT DO NOTHING``: a concurrent worker's row makes this a no-op instead of
    an error that would undo the rest of the caller's transaction.
    """
    values.setdefault("state", PENDING)
    values.setdefault("attempts", 0)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # RETURNING tells whether a row went in (rowcount says 1 either way through psycopg's RETURNING).
    inserted = session.execute(insert(OutboxMessage).values(**values)
                               .on_conflict_do_nothing(index_elements=["dedup_key"])
                               .returning(OutboxMessage.id)).first()
    return inserted is not None


def reminder_due(sent_at: datetime, done: int, now: datetime, calendar: Calendar) -> int | None:
    """The reminder to send now for a lead that reached the CFA at ``sent_at`` and got ``done`` reminders."""
    place, zone = calendar
    if add_working_days(sent_at, REMINDER_UNTIL, place, zone) <= now:
        return None
    for number, days in reversed(REMINDER_STEPS):
        if number > done and add_working_days(sent_at, days, place, zone) <= now:
            return number
    return None


def queue_reminders(session: Session, now: datetime) -> int:
    """Queue reminder 1 (2 working days) or 2 (5) for leads the CFA has not answered."""
    sent = first_email_sent().subquery()
    rows = session.execute(
        select(Lead.id, Lead.cfa_id, Lead.territory, Lead.reminders_sent, Lead.reminded_at, sent.c.sent_at)
        .join(sent, sent.c.lead_id == Lead.id)
        .where(Lead.anonymised_at.is_(None), Lead.status.not_in(sorted(ANSWERED | CLOSED)),
               Lead.first_answer_at.is_(None), Lead.reminders_sent < len(REMINDER_STEPS), ~_cfa_wrote(),
               sent.c.sent_at <= now - timedelta(days=REMINDER_STEPS[0][1]))
        .order_by(Lead.id)).all()
    calendars: dict[str, Calendar] = {}
    queued = 0
    for lead_id, cfa_id, territory, count, reminded_at, sent_at in rows:
        count = count or 0
        # A lead reminded before reminders were counted (reminded_at only) had reminder 1.
        done = max(count, 1 if reminded_at is not None else 0)
        step = reminder_due(as_utc(sent_at), done, now, cfa_calendar(session, cfa_id, territory, calendars))
        if step is None:
            continue
        won = session.execute(update(Lead).where(Lead.id == lead_id, Lead.reminders_sent == count)
                              .values(reminders_sent=step, reminded_at=now)
                              .execution_options(synchronize_session=False))
        if not won.rowcount:  # type: ignore[attr-defined]
            continue  # another worker took this step
        if queue_once(session, lead_id=lead_id, channel="email", kind="reminder",
                      dedup_key=f"reminder:{step}:{lead_id}", payload={"step": step}, next_attempt_at=now):
            queued += 1
    return queued


def digest_week(now: datetime, calendar: Calendar) -> str | None:
    """The ISO week (``2026-W49``) whose digest is due at ``now`` in this calendar, or None."""
    place, timezone = calendar
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    if local.weekday() >= 5:
        return None
    closed = public_holidays(place)
    monday = local.date() - timedelta(days=local.weekday())
    first = next((monday + timedelta(days=n) for n in range(5) if monday + timedelta(days=n) not in closed), None)
    if first is None or local < datetime.combine(first, time(DIGEST_HOUR), tzinfo=zone):
        return None
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def queue_digests(session: Session, now: datetime) -> int:
    """Queue this week's digest for each CFA with an open lead, once (key ``digest:<cfa>:<week>``)."""
    cfa_ids = session.scalars(select(Lead.cfa_id).where(Lead.anonymised_at.is_(None),
                                                        Lead.status.not_in(sorted(CLOSED)))
                              .distinct().order_by(Lead.cfa_id)).all()
    calendars: dict[str, Calendar] = {}
    due: dict[str, tuple[str, str]] = {}
    for cfa_id in cfa_ids:
        week = digest_week(now, cfa_calendar(session, cfa_id, None, calendars))
        if week is not None:
            due[f"digest:{cfa_id}:{week}"] = (cfa_id, week)
    if not due:
        return 0
    done = set(session.scalars(select(OutboxMessage.dedup_key).where(OutboxMessage.dedup_key.in_(sorted(due)))))
    queued = 0
    for key, (cfa_id, week) in sorted(due.items()):
        if key in done or delivery_for(session, cfa_id, now) is None:
            continue
        if queue_once(session, lead_id=None, cfa_id=cfa_id, channel="email", kind="digest", dedup_key=key,
                      payload={"week": week}, next_attempt_at=now):
            queued += 1
    return queued


def open_leads(session: Session, cfa_id: str, now: datetime) -> list[OpenLead]:
    """The CFA's open leads: those waiting for a first answer first, oldest first."""
    sent = first_email_sent().subquery()
    rows = session.execute(
        select(Lead, sent.c.sent_at, _cfa_wrote())
        .outerjoin(sent, sent.c.lead_id == Lead.id)
        .where(Lead.cfa_id == cfa_id, Lead.anonymised_at.is_(None), Lead.status.not_in(sorted(CLOSED)))).all()
    calendar = cfa_calendar(session, cfa_id)
    result = []
    for lead, sent_at, wrote in rows:
        received = as_utc(sent_at or lead.created_at)
        waiting = lead.status not in ANSWERED and lead.first_answer_at is None and not wrote
        result.append(OpenLead(lead, received, working_days_between(received, now, *calendar, whole=True), waiting))
    result.sort(key=lambda item: (not item.waiting, item.received_at, item.lead.id))
    return result


def queue_cfa_steps(session: Session, now: datetime) -> int:
    """Queue the CFA-side steps due at ``now`` (reminders, then digests); return how many."""
    return queue_reminders(session, now) + queue_digests(session, now)

