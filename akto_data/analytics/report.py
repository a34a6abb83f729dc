"""What the analytics pages and CSV files show, read from the counters only.

Every figure is a sum of :class:`AnalyticsCount` rows for a period kind, a date range
and optionally one territory (one indexed range query per page): a page view never
reads Rasa's events. Nothing here names a person: counts and topics only.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from akto_data.analytics.aggregate import FUNNEL
from akto_data.analytics.models import AnalyticsCount
from akto_data.csvsafe import safe_row

#: Intents that are not topics (answers to a question, buttons, fallback, feedback).
NOT_TOPICS = frozenset({"nlu_fallback", "inform", "affirm", "deny", "stop", "quiz_answer", "feedback_positive",
                        "feedback_negative", "fallback_other", "inconnu"})
SERIES_METRICS = ("conversations", "user_messages", "bot_messages", "users", "new_users", "returning_users",
                  "fallbacks")
FUNNEL_LABELS = {
    "start": "a écrit à l'assistant", "quiz_done": "quiz terminé", "occupation_card": "fiche métier vue",
    "lead_form": "demande de contact commencée", "consent": "consentement donné (demandes)",
    "delivered": "demande envoyée au CFA", "opened": "ouverte par le CFA", "contacted": "jeune contacté",
}
UNKNOWN_TERRITORY = "non précisé"
#: Tables a CSV can be downloaded for.
TABLES = ("periodes", "territoires", "sujets", "avis", "entonnoir")


class ReportError(ValueError):
    """Bad filters: ``errors`` maps a field name to a French message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class Filters:
    period: str
    start: date
    end: date
    territory: str | None

    def query(self) -> str:
        parts = [f"period={self.period}", f"from={self.start.isoformat()}", f"to={self.end.isoformat()}"]
        if self.territory:
            parts.append(f"territory={self.territory}")
        return "&".join(parts)


def parse_filters(period: str | None, start: str | None, end: str | None, territory: str | None,
                  territories: dict[str, str], today: date) -> Filters:
    """Filters from the page's query string; a bad one raises :class:`ReportError` (French message per field)."""
    errors: dict[str, str] = {}
    period = period or "day"
    if period not in ("day", "week"):
        errors["period"] = "Choisis « par jour » ou « par semaine »."
    default_span = timedelta(days=29) if period != "week" else timedelta(weeks=11)
    parsed: dict[str, date | None] = {}
    for name, value in (("to", end), ("from", start)):
        parsed[name] = None
        if value:
            try:
                parsed[name] = date.fromisoformat(value)
            except ValueError:
                errors[name] = "Date invalide : écris-la JJ/MM/AAAA avec le calendrier."
    last = parsed["to"] or today
    first = parsed["from"] or (last - default_span)
    if first > last and "from" not in errors and "to" not in errors:
        errors["from"] = "La date de début doit précéder la date de fin."
    if (last - first).days > 3 * 366 and not errors:
        errors["from"] = "Trois ans au plus à la fois."
    if territory and territory not in territories and territory != "inconnu":
        errors["territory"] = "Territoire inconnu."
    if errors:
        raise ReportError(errors)
    if period == "week":
        first -= timedelta(days=first.weekday())  # weeks start on Monday
    return Filters(period, first, last, territory or None)


@dataclass
class Report:
    filters: Filters
    #: One row per period start: the series metrics and the fallback rate.
    series: list[dict[str, object]] = field(default_factory=list)
    #: One row per territory: the same metrics over the whole range.
    territories: list[dict[str, object]] = field(default_factory=list)
    topics: list[tuple[str, int]] = field(default_factory=list)
    feedback: list[tuple[str, int, int]] = field(default_factory=list)
    funnel: list[tuple[str, str, int]] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)


def _rate(fallbacks: int, messages: int) -> float:
    return round(100 * fallbacks / messages, 1) if messages else 0.0


def _periods(filters: Filters) -> list[date]:
    step = timedelta(weeks=1) if filters.period == "week" else timedelta(days=1)
    found, current = [], filters.start
    while current <= filters.end:
        found.append(current)
        current += step
    return found


def build(session: Session, filters: Filters, territory_names: dict[str, str], top: int = 15) -> Report:
    counts = AnalyticsCount
    where = [counts.period == filters.period, counts.start >= filters.start, counts.start <= filters.end]
    if filters.territory:
        where.append(counts.territory == ("" if filters.territory == "inconnu" else filters.territory))
    # three small GROUP BYs done by the database (a few hundred rows back, whatever the volume)
    by_period: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_territory: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    totals: dict[str, int] = defaultdict(int)
    topics: dict[str, int] = defaultdict(int)
    feedback: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    funnel: dict[str, int] = defaultdict(int)
    series = [*where, counts.metric.in_(SERIES_METRICS)]
    for start, metric, value in session.execute(select(counts.start, counts.metric, func.sum(counts.value))
                                                .where(*series).group_by(counts.start, counts.metric)):
        by_period[start][metric] += int(value or 0)
        totals[metric] += int(value or 0)
    for territory, metric, value in session.execute(select(counts.territory, counts.metric, func.sum(counts.value))
                                                    .where(*series).group_by(counts.territory, counts.metric)):
        by_territory[territory][metric] += int(value or 0)
    others = [*where, counts.metric.in_(("topic", "feedback_up", "feedback_down", "funnel"))]
    for metric, key, value in session.execute(select(counts.metric, counts.key, func.sum(counts.value))
                                              .where(*others).group_by(counts.metric, counts.key)):
        value = int(value or 0)
        if metric == "topic":
            topics[key] += value
        elif metric == "funnel":
            funnel[key] += value
        else:
            feedback[key][0 if metric == "feedback_up" else 1] += value
    report = Report(filters, totals=dict(totals))
    for start in _periods(filters):
        values = by_period.get(start, {})
        report.series.append({"start": start, **{m: values.get(m, 0) for m in SERIES_METRICS},
                              "fallback_rate": _rate(values.get("fallbacks", 0), values.get("user_messages", 0))})
    for territory in sorted(by_territory, key=lambda t: (t == "", territory_names.get(t, t))):
        values = by_territory[territory]
        report.territories.append({"territory": territory_names.get(territory, territory) or UNKNOWN_TERRITORY,
                                   **{m: values.get(m, 0) for m in SERIES_METRICS},
                                   "fallback_rate": _rate(values.get("fallbacks", 0), values.get("user_messages", 0))})
    report.topics = sorted(((k, v) for k, v in topics.items() if k not in NOT_TOPICS and v > 0),
                           key=lambda item: (-item[1], item[0]))[:top]
    report.feedback = sorted(((k, up, down) for k, (up, down) in feedback.items() if up or down),
                             key=lambda item: (-(item[1] + item[2]), item[0]))
    report.funnel = [(step, FUNNEL_LABELS[step], funnel.get(step, 0)) for step in FUNNEL]
    return report


SERIES_HEADER = ("conversations", "messages reçus", "réponses", "jeunes", "nouveaux", "revenus", "incompris",
                 "taux d'incompris (%)")


def table_rows(report: Report, table: str) -> tuple[list[str], list[list[object]]]:
    """Header and rows of one table of the page (the CSV has exactly what the page shows)."""
    numbers = (*SERIES_METRICS, "fallback_rate")
    if table == "periodes":
        label = "semaine du" if report.filters.period == "week" else "jour"
        return [label, *SERIES_HEADER], [[row["start"].isoformat(), *(row[m] for m in numbers)]  # type: ignore[attr-defined]
                                         for row in report.series]
    if table == "territoires":
        return ["territoire", *SERIES_HEADER], [[row["territory"], *(row[m] for m in numbers)]
                                               for row in report.territories]
    if table == "sujets":
        return ["sujet", "messages"], [[topic, count] for topic, count in report.topics]
    if table == "avis":
        return ["sujet", "👍", "👎"], [[topic, up, down] for topic, up, down in report.feedback]
    if table == "entonnoir":
        return ["étape", "nombre"], [[label, count] for _step, label, count in report.funnel]
    raise KeyError(table)


def to_csv(header: list[str], rows: list[list[object]]) -> str:
    """French spreadsheet CSV (``;``), every cell formula-safe."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(safe_row(header))
    for row in rows:
        writer.writerow(safe_row(row))
    return "\ufeff" + out.getvalue()
