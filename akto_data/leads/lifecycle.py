"""What happens to a lead after it is sent: CFA status updates, the young person's
notices, and the working-day calendar of each territory. (Reminders to a CFA that has
not answered, and the weekly digest, are time-based steps: :mod:`akto_data.leads.followup`.)

Every change is written with the outbox message it causes in the same transaction,
so a notice or a reminder is never lost nor sent for a change that did not happen.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from akto_data.leads.links import CFA_STATUSES
from akto_data.leads.models import Lead, LeadStatusEvent, OutboxMessage
from akto_data.leads.outbox import CANCELLED, PENDING, SENDING, SENT
from akto_data.models import utcnow

#: Statuses that mean the CFA has opened the lead.
OPENED = set(CFA_STATUSES)
#: Statuses of a lead waiting for the CFA's first answer (the portal's "À traiter").
WAITING = ("new", "sent", "read")
#: Statuses that answer the young person (the console's "answered"; "read" is not an answer).
ANSWERED = frozenset(CFA_STATUSES) - {"read"}
#: Statuses after which nothing is waiting any more: no reminder, no day-7 question, no re-routing.
CLOSED = frozenset({"enrolled", "refused", "withdrawn", "rerouted"})
#: Reasons a CFA gives with "refused" (labels ``lead.refusal.<code>``), in the order offered.
REFUSAL_REASONS = ("full", "prerequisites", "not_offered", "no_employer", "other")
#: Who may set which status: the CFA (portal, links, webhook), the young person (day-7
#: answers: "contacted" means contacted-by-youth, "withdrawn" no longer interested), the
#: system ("sent" by the worker, "rerouted" when the young person chose another CFA).
SETTABLE_BY = {"cfa": frozenset(CFA_STATUSES), "user": frozenset({"contacted", "withdrawn"}),
               "system": frozenset({"sent", "rerouted"})}
#: Fields that identify a person, cleared by anonymisation.
IDENTIFYING = ("chat_id", "first_name", "town", "contact_value", "message")
#: How far along a lead is. A status may only move to an equal or higher rank: "sent"
#: (the worker) never undoes "contacted" (the CFA). "contacted" and "not_reachable"
#: share a rank: a CFA may reach someone it first could not reach, and the reverse.
#: "enrolled" and "refused" share a rank (a CFA may correct one into the other); a lead the
#: young person withdrew or moved to another CFA is closed for the CFA.
RANK = {"new": 0, "sent": 1, "read": 2, "contacted": 3, "not_reachable": 3, "interview": 4, "enrolled": 5,
        "refused": 5, "withdrawn": 6, "rerouted": 6}
#: Subdivision of the ``holidays`` package for each territory (abolition days included);
#: the Hexagone gets the national days.
HOLIDAY_SUBDIVISIONS = {"guadeloupe": "971", "martinique": "972", "guyane": "973", "reunion": "974",
                        "mayotte": "976", "saint_martin": "MF", "saint_barthelemy": "BL"}


class StatusChange(StrEnum):
    """What :func:`apply_status` did, for the page the CFA sees."""

    RECORDED = "recorded"
    UNCHANGED = "unchanged"  # already at that status (a second click)
    BACKWARDS = "backwards"  # refused: statuses only move forward
    GONE = "gone"  # unknown, erased or anonymised lead


def moves_forward(current: str, new: str) -> bool:
    return RANK.get(new, 0) >= RANK.get(current, 0) and new != current


def apply_status(session: Session, lead_key: str, status: str, by: str = "cfa",
                 now: datetime | None = None, reason: str | None = None) -> StatusChange:
    """Record ``status`` for the lead and tell its author (one notice at most pending).

    The change is a compare-and-set on the status read (on SQLite ``FOR UPDATE`` does
    nothing), so a concurrent change is never overwritten by an older view. Only a
    CFA's change is told to the young person (they made their own); the first CFA
    answer is timed for the console (:attr:`Lead.first_answer_at`).
    ``reason``: required with "refused" (one of :data:`REFUSAL_REASONS`), ignored otherwise.
    """
    if status not in SETTABLE_BY.get(by, frozenset()):
        raise ValueError(status)
    if status == "refused" and reason not in REFUSAL_REASONS:
        raise ValueError(f"refused needs a reason among {REFUSAL_REASONS}")
    reason = reason if status == "refused" else None
    now = now or utcnow()
    for _ in range(5):
        lead = session.scalars(select(Lead).where(Lead.idempotency_key == lead_key).with_for_update()
                               .execution_options(populate_existing=True)).first()
        if lead is None or lead.anonymised_at is not None:
            return StatusChange.GONE
        current = lead.status
        if current == status:
            return StatusChange.UNCHANGED
        if not moves_forward(current, status):
            return StatusChange.BACKWARDS
        changed = session.execute(update(Lead).where(Lead.id == lead.id, Lead.status == current)
                                  .values(status=status).execution_options(synchronize_session=False))
        if changed.rowcount:  # type: ignore[attr-defined]
            break
    else:
        return StatusChange.UNCHANGED  # someone else keeps changing it; their change stands
    lead.status = status
    lead.status_reason = reason
    if by == "cfa" and status in ANSWERED and lead.first_answer_at is None:
        lead.first_answer_at = now
    session.add(LeadStatusEvent(lead_id=lead.id, status=status, by=by, at=now, reason=reason))
    if lead.chat_id and by == "cfa":
        _queue_notice(session, lead, status, now, reason)
    return StatusChange.RECORDED


def _queue_notice(session: Session, lead: Lead, status: str, now: datetime, reason: str | None = None) -> None:
    """At most one notice waits per lead; none when the young person already knows this status.

    A CFA clicking back and forth between statuses updates the waiting notice instead
    of queueing one per click, and ending where the last notice left off cancels it.
    """
    notices = list(session.scalars(select(OutboxMessage).where(
        OutboxMessage.lead_id == lead.id, OutboxMessage.channel == "telegram", OutboxMessage.kind == "notice")
        .order_by(OutboxMessage.id)))
    told = [n for n in notices if n.state in (SENT, SENDING)]
    last_told = (told[-1].payload or {}).get("status") if told else None
    waiting = [n for n in notices if n.state == PENDING]
    for extra in waiting[:-1]:
        extra.state = CANCELLED
    if waiting:
        if status == last_told:
            waiting[-1].state = CANCELLED
        else:
            waiting[-1].payload = _notice_payload(status, reason)
    elif status != last_told:
        session.add(OutboxMessage(lead_id=lead.id, channel="telegram", kind="notice",
                                  payload=_notice_payload(status, reason), next_attempt_at=now))


def _notice_payload(status: str, reason: str | None) -> dict[str, str]:
    return {"status": status, "reason": reason} if reason else {"status": status}


@lru_cache(maxsize=16)
def public_holidays(territory: str | None) -> holidays.HolidayBase:
    """Public holidays of a territory (the national ones when it is unknown)."""
    return holidays.country_holidays("FR", subdiv=HOLIDAY_SUBDIVISIONS.get(territory or ""))


def add_working_days(start: datetime, days: int, territory: str | None = None, timezone: str = "UTC") -> datetime:
    """``start`` plus ``days`` working days of ``territory``, counted on its own calendar.

    Days are counted in the territory's time zone (a lead sent at 23:00 in Martinique
    is already Saturday in UTC) and skip weekends and the territory's public holidays
    (22 May in Martinique, 20 December in La Réunion…).
    """
    local = start.astimezone(_zone(timezone))
    return datetime.combine(_working_day_after(local.date(), days, territory), local.time(),
                            tzinfo=local.tzinfo).astimezone(UTC)


def working_days_between(start: datetime, end: datetime, territory: str | None = None, timezone: str = "UTC",
                         *, whole: bool = False) -> int:
    """Working days of ``territory`` from ``start`` to ``end``, on local dates of ``timezone``.

    By default the days after ``start``'s day up to ``end``'s day: a lead received on
    Friday is 0 days old that Friday and 1 on Monday (the age shown to people; the
    inverse of :func:`add_working_days` on dates). ``whole=True`` counts only whole
    working days, from the same time of day: the largest n with
    ``add_working_days(start, n) <= end`` (when a reminder is due). Never negative.
    """
    zone = _zone(timezone)
    first, last = start.astimezone(zone), end.astimezone(zone)
    if last <= first:
        return 0
    count = _days_between(first.date(), last.date(), territory)
    if (whole and count and last.weekday() < 5 and last.date() not in public_holidays(territory)
            and last.time() < first.time()):
        count -= 1  # the last working day is not over yet: it counts from the same time of day
    return count


# The calendar part is cached: the console's pages compute it for every lead of a period,
# and leads share few distinct days.
@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=65536)
def _working_day_after(day: date, days: int, territory: str | None) -> date:
    closed = public_holidays(territory)
    while days > 0:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in closed:
            days -= 1
    return day


@lru_cache(maxsize=65536)
def _days_between(day: date, last: date, territory: str | None) -> int:
    closed = public_holidays(territory)
    count = 0
    while day < last:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in closed:
            count += 1
    return count
