"""Issue 12, part 4: which CFAs answer — figures per CFA and per territory on a hand-built
set of leads (Martinique's own public holidays counted), the flag rule, the CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime

import pytest

from akto_data.cfa import performance
from akto_data.cfa.performance import Period, PeriodRefused, parse_period
from akto_data.db import session_scope
from akto_data.leads.lifecycle import working_days_between
from akto_data.leads.models import Lead

#: A Monday. Martinique's May 2026: Friday 22 (abolition of slavery, Martinique only) and
#: Monday 25 (Whit Monday) are public holidays.
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
PERIOD = Period(date(2026, 5, 1), date(2026, 6, 15))


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00")


def add_lead(session, number: int, cfa_id: str, created: datetime, answered: datetime | None, status: str,
             territory: str = "martinique") -> None:
    session.add(Lead(idempotency_key=f"k{number}", cfa_id=cfa_id, rome="F1602", training="CAP", territory=territory,
                     consent_version="v1", consented_at=created, created_at=created, first_answer_at=answered,
                     status=status, reasons=[]))


def dataset() -> None:
    with session_scope() as session:
        # A: received Mon 18 May 10:00 local, answered Wed 27 May 09:00 local. Its 5th working day in Martinique
        # is Wed 27 (22 and 25 May are holidays there): on time; with the national calendar only, late (Tue 26).
        add_lead(session, 1, "mq_cma", at("2026-05-18", 14), at("2026-05-27", 13), "contacted")
        add_lead(session, 2, "mq_cma", at("2026-05-18", 14), at("2026-05-28", 13), "enrolled")  # B: 6 working days
        add_lead(session, 3, "mq_cma", at("2026-06-01", 12), at("2026-06-01", 15), "interview")  # C: same day
        add_lead(session, 4, "mq_cma", at("2026-05-04", 12), None, "sent")  # D: waiting 29 working days
        add_lead(session, 5, "mq_cma", at("2026-06-12", 12), None, "read")  # E: waiting, not due yet
        add_lead(session, 6, "mq_cma", at("2026-05-05", 12), None, "withdrawn")  # G: due, not waiting
        add_lead(session, 7, "mq_cma", at("2026-04-20", 12), None, "sent")  # before the period: not counted
        add_lead(session, 8, "mq_skillfor", at("2026-06-01", 12), at("2026-06-02", 12), "contacted")  # next day
        add_lead(session, 9, "re_urma", at("2026-06-10", 8), at("2026-06-10", 9), "enrolled", "reunion")


def test_working_days_follow_the_territory_calendar():
    start = at("2026-05-18", 14)
    assert working_days_between(start, at("2026-05-27", 13), "martinique", "America/Martinique") == 5
    assert working_days_between(start, at("2026-05-27", 13), None, "UTC") == 6  # 22 May is Martinique's only
    assert working_days_between(start, at("2026-05-18", 20), "martinique", "America/Martinique") == 0
    # 23:30 in Martinique on Friday is already Saturday in UTC: the local day counts.
    assert working_days_between(at("2026-06-05", 12), at("2026-06-06", 3), "martinique", "America/Martinique") == 0


@pytest.mark.parametrize("db", ["catalogue", "catalogue_postgres"])
def test_figures_per_cfa_and_territory_on_a_hand_built_set(db, request):
    request.getfixturevalue(db)
    dataset()
    with session_scope() as session:
        report = performance.build(session, PERIOD, NOW)
    rows = {row.cfa_id: row for row in report.cfas}
    cma = rows["mq_cma"].figures
    assert (cma.received, cma.due, cma.answered_in_time) == (6, 5, 2)  # E not due yet; A and C on time
    assert cma.share_in_time == 40.0
    assert cma.median_days == 5.0  # A 5, B 6, C 0 working days
    assert (cma.enrolled, cma.share_enrolled) == (1, 16.7)
    assert (cma.waiting, cma.waiting_long) == (2, 1)  # D and E wait; D for more than 10 working days
    assert rows["mq_cma"].flags == ("slow", "waiting")
    skillfor = rows["mq_skillfor"]
    assert (skillfor.figures.received, skillfor.figures.share_in_time, skillfor.figures.median_days) == (1, 100.0, 1.0)
    assert skillfor.flags == ()
    assert rows["mq_umih"].figures.received == 0 and rows["mq_umih"].figures.share_in_time is None
    assert rows["mq_umih"].flags == ()
    territories = {row.territory: row for row in report.territories}
    mq = territories["martinique"]
    assert (mq.figures.received, mq.figures.due, mq.figures.answered_in_time) == (7, 6, 3)
    assert mq.figures.share_in_time == 50.0
    assert mq.figures.median_days == 3.0  # 0, 1, 5, 6
    assert (mq.figures.share_enrolled, mq.figures.waiting, mq.flagged, mq.cfas) == (14.3, 2, 1, 6)
    assert territories["reunion"].figures.share_enrolled == 100.0
    assert report.total.received == 8


def test_the_flag_rule_thresholds(catalogue):
    with session_scope() as session:
        # Three leads due, two answered on time (67 %): not flagged; one more late: 2 of 4 = 50 %, not under it.
        for number, answered in enumerate((at("2026-06-01", 13), at("2026-06-01", 14), None)):
            add_lead(session, number, "gp_urma", at("2026-06-01", 12), answered, "contacted" if answered else "withdrawn",
                     "guadeloupe")
    with session_scope() as session:
        assert next(r for r in performance.build(session, PERIOD, NOW).cfas if r.cfa_id == "gp_urma").flags == ()
        add_lead(session, 10, "gp_urma", at("2026-06-02", 12), None, "withdrawn", "guadeloupe")
    with session_scope() as session:
        row = next(r for r in performance.build(session, PERIOD, NOW).cfas if r.cfa_id == "gp_urma")
        assert (row.figures.due, row.figures.answered_in_time, row.flags) == (4, 2, ())
        add_lead(session, 11, "gp_urma", at("2026-06-03", 12), None, "withdrawn", "guadeloupe")
    with session_scope() as session:
        row = next(r for r in performance.build(session, PERIOD, NOW).cfas if r.cfa_id == "gp_urma")
        assert row.flags == ("slow",)  # 2 of 5


def test_csv_is_formula_safe_and_in_french_format(catalogue):
    dataset()
    with session_scope() as session:
        session.get(performance.CatCfa, "mq_cma").name = "=HYPERLINK(\"https://evil.example\")"
        report = performance.build(session, PERIOD, NOW)
    rows = list(csv.reader(io.StringIO(performance.to_csv(report)), delimiter=";"))
    assert rows[0][:4] == ["territoire", "CFA", "identifiant", "demandes reçues"]
    cma = next(r for r in rows if r[2] == "mq_cma")
    assert cma[1].startswith("'=")  # shown as text by a spreadsheet, never run
    assert cma[3:8] == ["6", "5", "2", "40", "5"]
    assert cma[9] == "16,7"
    assert "répond peu" in cma[12] and "plus de 10 jours ouvrés" in cma[12]


def test_period_defaults_to_the_last_90_days_and_bad_dates_are_refused():
    today = date(2026, 11, 30)
    assert parse_period(None, "", today) == Period(date(2026, 9, 2), today)
    with pytest.raises(PeriodRefused) as bad:
        parse_period("30/11/2026", None, today)
    assert "AAAA-MM-JJ" in bad.value.errors["du"]
    with pytest.raises(PeriodRefused) as order:
        parse_period("2026-11-30", "2026-11-01", today)
    assert "après" in order.value.errors["du"]


def test_the_rule_the_staff_read_and_the_csv_headings_follow_the_thresholds(catalogue, monkeypatch):
    """The sentence and the headings say the thresholds the figures use (one place to change them)."""
    assert "au moins 3 demandes" in performance.flag_rule() and "dépassé 5 jours ouvrés" in performance.flag_rule()
    monkeypatch.setattr(performance, "ANSWER_WITHIN_DAYS", 7)
    monkeypatch.setattr(performance, "FLAG_WAITING_DAYS", 15)
    monkeypatch.setattr(performance, "FLAG_MIN_DUE", 4)
    rule = performance.flag_rule()
    assert "au moins 4 demandes ont dépassé 7 jours ouvrés" in rule and "plus de 15 jours ouvrés" in rule
    with session_scope() as session:
        header = next(csv.reader(io.StringIO(performance.to_csv(performance.build(session, PERIOD, NOW))),
                                 delimiter=";"))
    assert "délai de 7 j ouvrés écoulé" in header and "répondues en 7 j ouvrés" in header
    assert "dont plus de 15 j ouvrés" in header and not any(re.search(r"\b(5|10) j", h) for h in header)
    assert performance.flag_labels(("slow", "waiting")) == ["répond peu dans les 7 jours ouvrés",
                                                           "une demande attend depuis plus de 15 jours ouvrés"]
