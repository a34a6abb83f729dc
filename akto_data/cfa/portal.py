"""What a CFA sees and does in its portal: its leads, one lead, a status, an export.

Every function takes the signed-in CFA's id and filters every query on it: a lead
of another CFA is exactly as absent as a lead that does not exist (the pages answer
the same 404), and an export can only hold the CFA's own leads. Anonymised leads are
left out: they no longer say anything about a person the CFA could call.

Dates are the CFA's: a lead received at 23:30 in Martinique is received on that day
there, not the next one in UTC; ages count the working days of the CFA's territory
(weekends and its public holidays skipped), like the reminders do.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from akto_data.catalogue.tables import CatCfa, CatTerritory
from akto_data.csvsafe import safe_row
from akto_data.i18n import MissingText
from akto_data.i18n import text as t
from akto_data.leads.contact import display_phone
from akto_data.leads.emails import card_rows
from akto_data.leads.form import label, shown_contact
from akto_data.leads.lifecycle import (
    REFUSAL_REASONS,
    WAITING,
    StatusChange,
    apply_status,
    moves_forward,
    working_days_between,
)
from akto_data.leads.models import Lead, LeadStatusEvent
from akto_data.models import as_utc, utcnow

#: Statuses a CFA sets in the portal, in the order offered ("read" is set by opening the lead).
PORTAL_STATUSES = ("contacted", "interview", "enrolled", "not_reachable", "refused")
#: Statuses that mean the young person closed the lead (no status form any more).
CLOSED_BY_YOUNG = ("withdrawn", "rerouted")
#: Every status a lead may have, in the order of the list filter.
ALL_STATUSES = ("new", "sent", "read", "contacted", "not_reachable", "interview", "enrolled", "refused",
                "withdrawn", "rerouted")
#: Value of the status filter for "waiting for a first answer".
FILTER_WAITING = "attente"
PAGE_SIZE = 50
#: The longest export range, so one click cannot build a file of the whole history at once.
MAX_EXPORT_DAYS = 366


@dataclass(frozen=True)
class Place:
    """Where the CFA is: its territory (holidays) and time zone (dates)."""

    territory: str | None
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, moment: datetime) -> datetime:
        return as_utc(moment).astimezone(self.zone)

    def day_bounds(self, start: date, end: date) -> tuple[datetime, datetime]:
        """UTC instants of ``start`` 00:00 and the end of ``end`` (inclusive), in the CFA's zone."""
        lower = datetime.combine(start, time.min, tzinfo=self.zone).astimezone(UTC)
        upper = datetime.combine(end + timedelta(days=1), time.min, tzinfo=self.zone).astimezone(UTC)
        return lower, upper

    def age(self, received: datetime, now: datetime) -> int:
        return working_days_between(as_utc(received), now, self.territory, self.timezone)


def place_of(session: Session, cfa_id: str) -> Place:
    cfa = session.get(CatCfa, cfa_id)
    territory = cfa.territory if cfa is not None else None
    zone = session.get(CatTerritory, territory) if territory else None
    return Place(territory, zone.timezone if zone is not None else "UTC")


def _territory_names(session: Session) -> dict[str, str]:
    return {code: name for code, name in session.execute(select(CatTerritory.id, CatTerritory.name))}


def status_label(status: str) -> str:
    return t(f"lead.status.{status}")


def reason_label(reason: str | None) -> str | None:
    """The label of a status reason, never its code (None when we have no words for it)."""
    if not reason:
        return None
    for key in (f"lead.refusal.{reason}", f"cfa.portal.reason.{reason}"):
        try:
            return t(key)
        except MissingText:
            continue
    return None


def parse_day(value: str | None) -> date | None:
    """``AAAA-MM-JJ`` (what an ``<input type=date>`` sends), or None when empty; ValueError otherwise."""
    value = (value or "").strip()
    if not value:
        return None
    if len(value) != 10:  # fromisoformat also takes 20261130, which no date field sends
        raise ValueError(value)
    return date.fromisoformat(value)


# -- The list ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadFilters:
    status: str = ""
    territory: str = ""
    training: str = ""
    start: date | None = None
    end: date | None = None
    page: int = 1

    @classmethod
    def from_query(cls, query: dict[str, str]) -> tuple[LeadFilters, list[str]]:
        """Filters from the list's query string; a bad value is dropped and named in the errors."""
        errors: list[str] = []
        status = query.get("statut", "")
        if status and status != FILTER_WAITING and status not in ALL_STATUSES:
            status = ""
            errors.append(t("cfa.portal.filter.bad_status"))
        days: list[date | None] = []
        for name in ("du", "au"):
            try:
                days.append(parse_day(query.get(name)))
            except ValueError:
                days.append(None)
                errors.append(t("cfa.portal.filter.bad_date", value=query.get(name, "")[:20]))
        start, end = days
        if start and end and end < start:
            errors.append(t("cfa.portal.filter.dates_reversed"))
            start, end = end, start
        try:
            page = max(1, min(int(query.get("page") or 1), 100_000))
        except ValueError:
            page = 1
        return cls(status, query.get("territoire", "")[:32], query.get("formation", "")[:255], start, end,
                   page), errors

    def query(self, page: int | None = None) -> dict[str, str]:
        """The filters as the list's query string (for the pages' links and the export's)."""
        values = {"statut": self.status, "territoire": self.territory, "formation": self.training,
                  "du": self.start.isoformat() if self.start else "", "au": self.end.isoformat() if self.end else "",
                  "page": str(page or self.page)}
        return {k: v for k, v in values.items() if v and not (k == "page" and v == "1")}


@dataclass(frozen=True)
class LeadRow:
    id: int
    received: datetime  # in the CFA's time zone
    first_name: str
    training: str
    territory: str
    status: str
    status_label: str
    age: int  # working days since received
    waiting: bool


@dataclass(frozen=True)
class LeadList:
    rows: list[LeadRow]
    total: int  # the CFA's leads
    waiting: int  # of which waiting for a first answer
    matching: int  # leads the filters keep
    page: int
    pages: int
    statuses: list[tuple[str, str]] = field(default_factory=list)  # filter options (value, label)
    territories: list[tuple[str, str]] = field(default_factory=list)
    trainings: list[str] = field(default_factory=list)


def _own(cfa_id: str) -> Select[Lead]:
    return select(Lead).where(Lead.cfa_id == cfa_id, Lead.anonymised_at.is_(None))


def list_leads(session: Session, cfa_id: str, filters: LeadFilters, now: datetime | None = None) -> LeadList:
    """The CFA's leads the filters keep, newest first, one page of :data:`PAGE_SIZE`."""
    now = now or utcnow()
    place = place_of(session, cfa_id)
    mine = (Lead.cfa_id == cfa_id, Lead.anonymised_at.is_(None))
    total = session.scalar(select(func.count(Lead.id)).where(*mine)) or 0
    waiting = session.scalar(select(func.count(Lead.id)).where(*mine, Lead.status.in_(WAITING))) or 0
    conditions = list(mine)
    if filters.status == FILTER_WAITING:
        conditions.append(Lead.status.in_(WAITING))
    elif filters.status:
        conditions.append(Lead.status == filters.status)
    if filters.territory:
        conditions.append(Lead.territory == filters.territory)
    if filters.training:
        conditions.append(Lead.training == filters.training)
    if filters.start:
        conditions.append(Lead.created_at >= place.day_bounds(filters.start, filters.start)[0])
    if filters.end:
        conditions.append(Lead.created_at < place.day_bounds(filters.end, filters.end)[1])
    matching = session.scalar(select(func.count(Lead.id)).where(*conditions)) or 0
    pages = max(1, -(-matching // PAGE_SIZE))
    page = min(filters.page, pages)
    leads = session.scalars(select(Lead).where(*conditions).order_by(Lead.created_at.desc(), Lead.id.desc())
                            .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    names = _territory_names(session)
    rows = [LeadRow(lead.id, place.local(lead.created_at), lead.first_name or "?", lead.training,
                    names.get(lead.territory, lead.territory), lead.status, status_label(lead.status),
                    place.age(lead.created_at, now), lead.status in WAITING) for lead in leads]
    territories = sorted(session.scalars(select(Lead.territory).where(*mine).distinct()))
    trainings = sorted(session.scalars(select(Lead.training).where(*mine).distinct()))
    statuses = [(FILTER_WAITING, t("cfa.portal.filter.waiting"))] + [(s, status_label(s)) for s in ALL_STATUSES]
    return LeadList(rows, total, waiting, matching, page, pages, statuses,
                    [(code, names.get(code, code)) for code in territories], trainings)


def default_export_range(session: Session, cfa_id: str, filters: LeadFilters,
                         now: datetime | None = None) -> tuple[date, date]:
    """The export form's dates: the list's date filter, else the last 30 days (the CFA's dates)."""
    today = place_of(session, cfa_id).local(now or utcnow()).date()
    end = filters.end or today
    return filters.start or min(end, today) - timedelta(days=30), end


# -- One lead ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime  # in the CFA's time zone
    status_label: str
    by: str
    reason: str | None


@dataclass(frozen=True)
class LeadView:
    id: int
    first_name: str
    training: str
    received: datetime
    age: int
    status: str
    status_label: str
    reason: str | None
    waiting: bool
    #: The young person withdrew it or chose another CFA: no status form.
    closed_by_young: bool
    card: list[tuple[str, str]]
    contact: str
    message: str | None
    history: list[HistoryEntry]
    #: Statuses the form offers (forward only; "refused" has its own form with a reason).
    offered: list[tuple[str, str]] = field(default_factory=list)
    can_refuse: bool = False


def _lead(session: Session, cfa_id: str, lead_id: int) -> Lead | None:
    """The CFA's lead, or None (unknown, another CFA's, anonymised: all the same to the caller)."""
    return session.scalar(_own(cfa_id).where(Lead.id == lead_id))


def lead_view(session: Session, cfa_id: str, lead_id: int, now: datetime | None = None) -> LeadView | None:
    """The lead as its page shows it, or None when it is not this CFA's."""
    now = now or utcnow()
    lead = _lead(session, cfa_id, lead_id)
    if lead is None:
        return None
    place = place_of(session, cfa_id)
    events = session.scalars(select(LeadStatusEvent).where(LeadStatusEvent.lead_id == lead.id)
                             .order_by(LeadStatusEvent.at, LeadStatusEvent.id)).all()
    history = [HistoryEntry(place.local(e.at), status_label(e.status), t(f"cfa.portal.by.{e.by}")
                            if e.by in ("cfa", "user", "system", "staff") else e.by, reason_label(e.reason))
               for e in events]
    offered = [(s, status_label(s)) for s in PORTAL_STATUSES
               if s != "refused" and moves_forward(lead.status, s) and lead.status not in CLOSED_BY_YOUNG]
    can_refuse = moves_forward(lead.status, "refused") and lead.status not in CLOSED_BY_YOUNG
    contact_label = t("lead.card.contact")
    card = [(name, value) for name, value in card_rows(session, lead) if name != contact_label]
    return LeadView(lead.id, lead.first_name or "?", lead.training, place.local(lead.created_at),
                    place.age(lead.created_at, now), lead.status, status_label(lead.status),
                    reason_label(lead.status_reason), lead.status in WAITING, lead.status in CLOSED_BY_YOUNG,
                    card, shown_contact(lead.contact_channel, lead.contact_value),
                    (lead.message or "").strip() or None, history, offered, can_refuse)


def open_lead(session: Session, cfa_id: str, lead_id: int, now: datetime | None = None) -> LeadView | None:
    """The lead's page: opening it marks a lead not yet opened "read" by the CFA (the young person is told)."""
    now = now or utcnow()
    lead = _lead(session, cfa_id, lead_id)
    if lead is None:
        return None
    if lead.status in ("new", "sent"):
        apply_status(session, lead.idempotency_key, "read", by="cfa", now=now)
    return lead_view(session, cfa_id, lead_id, now)


class StatusOutcome(StrEnum):
    """What a status form did, as the lead page tells it (``cfa.portal.outcome.<value>``)."""

    RECORDED = "recorded"
    UNCHANGED = "unchanged"
    BACKWARDS = "backwards"
    CLOSED = "closed"  # withdrawn or rerouted by the young person
    BAD_STATUS = "bad_status"
    NEEDS_REASON = "needs_reason"


def change_status(session: Session, cfa_id: str, lead_id: int, status: str, reason: str | None = None,
                  now: datetime | None = None) -> StatusOutcome | None:
    """Record the CFA's status for its lead (the young person is told by the bot); None: not its lead."""
    lead = _lead(session, cfa_id, lead_id)
    if lead is None:
        return None
    if status not in PORTAL_STATUSES:
        return StatusOutcome.BAD_STATUS
    if status == "refused" and reason not in REFUSAL_REASONS:
        return StatusOutcome.NEEDS_REASON
    if lead.status in CLOSED_BY_YOUNG:
        return StatusOutcome.CLOSED
    change = apply_status(session, lead.idempotency_key, status, by="cfa", now=now or utcnow(),
                          reason=reason if status == "refused" else None)
    if change is StatusChange.RECORDED:
        return StatusOutcome.RECORDED
    if change is StatusChange.BACKWARDS:
        session.refresh(lead)
        return StatusOutcome.CLOSED if lead.status in CLOSED_BY_YOUNG else StatusOutcome.BACKWARDS
    if change is StatusChange.GONE:
        return None
    return StatusOutcome.UNCHANGED


def outcome_message(outcome: str, current: str) -> str | None:
    """The sentence a status form's outcome reads as, naming the lead's current status."""
    if outcome not in StatusOutcome.__members__.values():
        return None
    return t(f"cfa.portal.outcome.{outcome}", status=status_label(current))


# -- Export -----------------------------------------------------------------------------

EXPORT_COLUMNS = ("received", "first_name", "age", "minor", "training", "territory", "town", "diploma_level",
                  "start_when", "has_employer", "mobility", "contact_channel", "contact", "reasons", "message",
                  "score", "status", "status_reason", "reference")


class ExportRangeError(ValueError):
    """The dates asked for an export are missing or wrong: the message says what to fix."""


def export_range(start: str | None, end: str | None) -> tuple[date, date]:
    """The two days of an export (``AAAA-MM-JJ``, inclusive), checked; ExportRangeError otherwise."""
    try:
        first, last = parse_day(start), parse_day(end)
    except ValueError:
        raise ExportRangeError(t("cfa.portal.export.bad_date")) from None
    if first is None or last is None:
        raise ExportRangeError(t("cfa.portal.export.missing_date"))
    if last < first:
        raise ExportRangeError(t("cfa.portal.export.reversed"))
    if (last - first).days >= MAX_EXPORT_DAYS:
        raise ExportRangeError(t("cfa.portal.export.too_long", days=MAX_EXPORT_DAYS))
    return first, last


def _yes_no(value: bool | None) -> str:
    return "" if value is None else t("lead.value.yes" if value else "lead.value.no")


def export_csv(session: Session, cfa_id: str, start: date, end: date) -> tuple[str, int]:
    """The CFA's leads received from ``start`` to ``end`` (its own dates, inclusive) as CSV; and how many.

    For a French spreadsheet: UTF-8 with a BOM (Excel reads the accents), ``;`` separators,
    French headers and labels rather than codes; every cell formula-safe
    (:mod:`akto_data.csvsafe`: what young people type is shown, never run).
    """
    place = place_of(session, cfa_id)
    lower, upper = place.day_bounds(start, end)
    names = _territory_names(session)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([t(f"cfa.portal.csv.{column}") for column in EXPORT_COLUMNS])
    count = 0
    for lead in session.scalars(_own(cfa_id).where(Lead.created_at >= lower, Lead.created_at < upper)
                                .order_by(Lead.created_at, Lead.id)):
        contact = (display_phone(lead.contact_value) if lead.contact_channel == "phone" and lead.contact_value
                   else lead.contact_value or "")
        values: dict[str, object] = {
            "received": place.local(lead.created_at).strftime("%d/%m/%Y %H:%M"),
            "first_name": lead.first_name or "", "age": lead.age if lead.age is not None else "",
            "minor": _yes_no(lead.minor), "training": lead.training,
            "territory": names.get(lead.territory, lead.territory), "town": lead.town or "",
            "diploma_level": label("diploma", lead.diploma_level), "start_when": label("start", lead.start_when),
            "has_employer": _yes_no(lead.has_employer), "mobility": label("mobility", lead.mobility),
            "contact_channel": label("channel", lead.contact_channel), "contact": contact,
            "reasons": ", ".join(label("reason", r) for r in lead.reasons or []),
            "message": (lead.message or "").strip(), "score": lead.score, "status": status_label(lead.status),
            "status_reason": reason_label(lead.status_reason) or "", "reference": lead.idempotency_key,
        }
        writer.writerow(safe_row(values[column] for column in EXPORT_COLUMNS))
        count += 1
    return out.getvalue(), count
