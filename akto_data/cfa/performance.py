"""Which CFAs answer: the staff console's figures per CFA and per territory, and the pause.

Over a period of received leads (default the last 90 days), per CFA:

- **received**: leads created in the period (consented and stored for this CFA);
- **answered within 5 working days**: the CFA's first answer (:attr:`Lead.first_answer_at`:
  a status other than "read" set by the CFA) came at most 5 working days after the lead
  was received, counted on the CFA's territory calendar (weekends and that territory's
  public holidays skipped, in its time zone, :func:`akto_data.leads.lifecycle.add_working_days`).
  The share is over the leads whose 5 working days are over, or already answered in
  time: a lead received yesterday is not counted as late;
- **median time to the first answer**, in working days (0: answered on the day it was
  received, 1: the next working day…), over the answered leads;
- **enrolled**: share of received leads at the status "enrolled";
- **waiting**: leads still waiting for a first answer (new, sent or only read; not
  withdrawn, moved to another CFA, nor anonymised).

A CFA is **flagged** (:func:`flag_rule`) when at least :data:`FLAG_MIN_DUE` leads are due
and under :data:`FLAG_MIN_SHARE` of them were answered within 5 working days, or when a
lead has waited for a first answer more than :data:`FLAG_WAITING_DAYS` working days.

The figures come from one query of the period's leads (a few columns) plus the CFA,
territory and account tables, never one query per lead.
"""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from akto_data.catalogue.tables import CatCfa, CatTerritory
from akto_data.cfa.models import CfaAccount
from akto_data.csvsafe import safe_row
from akto_data.i18n import text as t
from akto_data.leads.lifecycle import WAITING, add_working_days, working_days_between
from akto_data.leads.models import Lead
from akto_data.models import as_utc, utcnow
from akto_data.staff.audit import record

#: An answer within this many working days counts as on time.
ANSWER_WITHIN_DAYS = 5
#: Flag: at least this many leads due and under this share answered on time ...
FLAG_MIN_DUE = 3
FLAG_MIN_SHARE = 0.5
#: ... or a lead waiting for a first answer for more than this many working days.
FLAG_WAITING_DAYS = 10
DEFAULT_PERIOD_DAYS = 90
#: Longest period asked (the page stays fast; retention keeps no more anyway).
MAX_PERIOD_DAYS = 3 * 366
#: Statuses of a lead still waiting for the CFA's first answer.
MAX_REASON = 500
#: Columns of the CSV export (keys ``cfa.staff.csv.<name>``), in order.
CSV_COLUMNS = ("territory", "cfa", "cfa_id", "received", "due", "answered_in_time", "share_in_time", "median_days",
               "enrolled", "share_enrolled", "waiting", "waiting_long", "flagged", "paused")


def flag_rule() -> str:
    """The flag rule in words, for the staff page: the thresholds read from the constants above."""
    return t("cfa.staff.flag_rule", min_due=FLAG_MIN_DUE, days=ANSWER_WITHIN_DAYS,
             share=int(FLAG_MIN_SHARE * 100), waiting_days=FLAG_WAITING_DAYS)


def csv_header() -> list[str]:
    return [t(f"cfa.staff.csv.{name}", days=ANSWER_WITHIN_DAYS, waiting_days=FLAG_WAITING_DAYS)
            for name in CSV_COLUMNS]


class PeriodRefused(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(sorted(errors)))
        self.errors = errors


class PauseRefused(ValueError):
    """A pause without a reason, or an unknown CFA: French message."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    def query(self) -> str:
        return f"du={self.start.isoformat()}&au={self.end.isoformat()}"


def default_period(today: date) -> Period:
    return Period(today - timedelta(days=DEFAULT_PERIOD_DAYS - 1), today)


def parse_period(start: str | None, end: str | None, today: date) -> Period:
    """The period typed (``AAAA-MM-JJ``), the last 90 days when empty. Raises PeriodRefused."""
    default = default_period(today)
    errors: dict[str, str] = {}
    days: dict[str, date] = {}
    for name, raw, fallback in (("du", start, default.start), ("au", end, default.end)):
        try:
            days[name] = date.fromisoformat(raw.strip()) if raw and raw.strip() else fallback
        except ValueError:
            errors[name] = t("cfa.staff.period_date")
    if not errors and days["du"] > days["au"]:
        errors["du"] = t("cfa.staff.period_order")
    if not errors and (days["au"] - days["du"]).days >= MAX_PERIOD_DAYS:
        errors["du"] = t("cfa.staff.period_long", days=MAX_PERIOD_DAYS)
    if errors:
        raise PeriodRefused(errors)
    return Period(days["du"], days["au"])


@dataclass
class Figures:
    received: int = 0
    due: int = 0
    answered_in_time: int = 0
    enrolled: int = 0
    waiting: int = 0
    waiting_long: int = 0
    delays: list[int] = field(default_factory=list)

    def add(self, other: Figures) -> None:
        self.received += other.received
        self.due += other.due
        self.answered_in_time += other.answered_in_time
        self.enrolled += other.enrolled
        self.waiting += other.waiting
        self.waiting_long += other.waiting_long
        self.delays.extend(other.delays)

    @property
    def share_in_time(self) -> float | None:
        """Percentage answered within 5 working days among the due leads (None: none due)."""
        return round(100 * self.answered_in_time / self.due, 1) if self.due else None

    @property
    def median_days(self) -> float | None:
        return float(statistics.median(self.delays)) if self.delays else None

    @property
    def share_enrolled(self) -> float | None:
        return round(100 * self.enrolled / self.received, 1) if self.received else None

    @property
    def flags(self) -> tuple[str, ...]:
        """Codes of :func:`flag_rule` this CFA meets: ``slow``, ``waiting``."""
        found = []
        if self.due >= FLAG_MIN_DUE and self.answered_in_time < FLAG_MIN_SHARE * self.due:
            found.append("slow")
        if self.waiting_long:
            found.append("waiting")
        return tuple(found)


@dataclass(frozen=True)
class CfaRow:
    cfa_id: str
    name: str
    territory: str
    territory_name: str
    figures: Figures
    paused_at: datetime | None = None
    paused_by: str | None = None
    pause_reason: str | None = None

    @property
    def flags(self) -> tuple[str, ...]:
        return self.figures.flags


@dataclass(frozen=True)
class TerritoryRow:
    territory: str
    name: str
    figures: Figures
    cfas: int
    flagged: int


@dataclass(frozen=True)
class Report:
    period: Period
    cfas: list[CfaRow]
    territories: list[TerritoryRow]
    total: Figures


def build(session: Session, period: Period, now: datetime | None = None) -> Report:
    """The figures of every CFA (those without leads too) and territory for ``period``."""
    now = now or utcnow()
    zones = {row.id: (row.name, row.timezone) for row in session.scalars(select(CatTerritory))}
    cfas = {row.id: row for row in session.scalars(select(CatCfa))}
    accounts = {row.cfa_id: row for row in session.scalars(select(CfaAccount))}
    since = datetime.combine(period.start, time.min, tzinfo=UTC)
    until = datetime.combine(period.end + timedelta(days=1), time.min, tzinfo=UTC)
    leads = session.execute(
        select(Lead.cfa_id, Lead.territory, Lead.created_at, Lead.first_answer_at, Lead.status, Lead.anonymised_at)
        .where(Lead.created_at >= since, Lead.created_at < until)).all()
    figures: dict[str, Figures] = {cfa_id: Figures() for cfa_id in cfas}
    places: dict[str, str] = {cfa_id: cfa.territory for cfa_id, cfa in cfas.items()}
    for cfa_id, lead_territory, created, answered, status, anonymised in leads:
        place = places.setdefault(cfa_id, lead_territory)  # a CFA since removed: the lead's territory
        timezone = zones.get(place, ("", "UTC"))[1]
        created = as_utc(created)
        counts = figures.setdefault(cfa_id, Figures())
        counts.received += 1
        counts.enrolled += status == "enrolled"
        due_at = add_working_days(created, ANSWER_WITHIN_DAYS, place, timezone)
        if answered is not None:
            answered = as_utc(answered)
            counts.delays.append(working_days_between(created, answered, place, timezone))
            in_time = answered <= due_at
            counts.answered_in_time += in_time
            counts.due += in_time or due_at <= now
        else:
            counts.due += due_at <= now
            if status in WAITING and anonymised is None:
                counts.waiting += 1
                counts.waiting_long += add_working_days(created, FLAG_WAITING_DAYS, place, timezone) < now
    rows = []
    for cfa_id, counts in figures.items():
        cfa, account = cfas.get(cfa_id), accounts.get(cfa_id)
        place = places[cfa_id]
        rows.append(CfaRow(cfa_id, cfa.name if cfa else cfa_id, place, zones.get(place, (place, ""))[0], counts,
                           as_utc(account.paused_at) if account and account.paused_at else None,
                           account.paused_by if account else None, account.pause_reason if account else None))
    rows.sort(key=lambda r: (r.territory_name, r.name.casefold()))
    territories: dict[str, TerritoryRow] = {}
    total = Figures()
    for row in rows:
        if row.territory not in territories:
            territories[row.territory] = TerritoryRow(row.territory, row.territory_name, Figures(), 0, 0)
        current = territories[row.territory]
        current.figures.add(row.figures)
        territories[row.territory] = TerritoryRow(current.territory, current.name, current.figures,
                                                  current.cfas + 1, current.flagged + bool(row.flags))
        total.add(row.figures)
    return Report(period, rows, list(territories.values()), total)


def flag_labels(flags: tuple[str, ...]) -> list[str]:
    return [t(f"cfa.staff.flag.{code}", days=FLAG_WAITING_DAYS, answer_days=ANSWER_WITHIN_DAYS) for code in flags]


def to_csv(report: Report) -> str:
    """The CFA table for a spreadsheet (French format: ``;``, decimal comma, formula-safe cells)."""
    def number(value: float | None) -> str:
        return "" if value is None else f"{value:g}".replace(".", ",")

    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(csv_header())
    for row in report.cfas:
        f = row.figures
        writer.writerow(safe_row([row.territory_name, row.name, row.cfa_id, f.received, f.due, f.answered_in_time,
                                  number(f.share_in_time), number(f.median_days), f.enrolled,
                                  number(f.share_enrolled), f.waiting, f.waiting_long,
                                  " ; ".join(flag_labels(row.flags)),
                                  t("lead.value.yes" if row.paused_at else "lead.value.no")]))
    return out.getvalue()


# -- pause -----------------------------------------------------------------------------------------------------------
def pause(session: Session, cfa_id: str, reason: str, by: str, now: datetime | None = None) -> bool:
    """Pause a CFA: no new lead goes to it from now on (matching leaves it out). Audited.

    Returns False when it was already paused (nothing changed). Raises PauseRefused.
    """
    now = now or utcnow()
    reason = " ".join(reason.split())
    if not reason:
        raise PauseRefused(t("cfa.staff.pause_reason"))
    if len(reason) > MAX_REASON:
        raise PauseRefused(t("cfa.staff.pause_reason_long", max=MAX_REASON))
    if session.get(CatCfa, cfa_id) is None:
        raise PauseRefused(t("cfa.staff.unknown_cfa"))
    account = session.get(CfaAccount, cfa_id)
    if account is None:
        # No copy of the delivery file here: delivery_for keeps reading it until the CFA saves.
        account = CfaAccount(cfa_id=cfa_id, contact_in_email=True)
        session.add(account)
    if account.paused_at is not None:
        return False
    account.paused_at, account.paused_by, account.pause_reason = now, by[:254], reason
    record(session, by, "cfa.pause", f"CFA {cfa_id}", {"paused": False}, {"paused": True, "reason": reason})
    return True


def resume(session: Session, cfa_id: str, by: str) -> bool:
    """Take a CFA out of pause (new leads reach it again). Audited; False when it was not paused."""
    account = session.get(CfaAccount, cfa_id)
    if account is None or account.paused_at is None:
        return False
    before = {"paused": True, "reason": account.pause_reason, "by": account.paused_by}
    account.paused_at = account.paused_by = account.pause_reason = None
    record(session, by, "cfa.resume", f"CFA {cfa_id}", before, {"paused": False})
    return True
