"""What the assistant reads from the catalogue (after :mod:`.importer` ran).

Every answer that states a figure or a rule carries its source and check date, and
is flagged ``stale`` once its review date has passed: it is still answered, marked
"à vérifier", until staff confirm it.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select

from akto_data.catalogue.tables import (
    CatAid,
    CatAidPeriod,
    CatCfa,
    CatCfaTraining,
    CatDocument,
    CatFaq,
    CatOccupation,
    CatRecruitment,
    CatTerritory,
)
from akto_data.db import session_scope


@dataclass(frozen=True)
class Sourced:
    """Provenance of a fact, as shown to the user."""

    source: str
    verified_on: date
    review_on: date

    def stale(self, today: date | None = None) -> bool:
        return (today or date.today()) > self.review_on


def territory(territory_id: str) -> CatTerritory | None:
    with session_scope() as session:
        return session.get(CatTerritory, territory_id)


def faq(topic: str) -> tuple[str, Sourced] | None:
    with session_scope() as session:
        row = session.get(CatFaq, topic)
        return (row.answer, Sourced(row.source, row.verified_on, row.review_on)) if row else None


def document(name: str) -> dict[str, Any]:
    with session_scope() as session:
        row = session.get(CatDocument, name)
        if row is None:
            raise LookupError(f"catalogue document {name!r} missing: run the catalogue import")
        return row.data


# -- occupations ------------------------------------------------------------------------
def occupation(rome: str) -> CatOccupation | None:
    with session_scope() as session:
        return session.get(CatOccupation, rome)


def occupation_named(typed: str) -> CatOccupation | None:
    """The occupation whose name the user typed, misspelt or inside a sentence ("jveu etre boulangere")."""
    wanted = _plain(typed)
    if not wanted:
        return None
    by_name: dict[str, CatOccupation] = {}
    for job in all_occupations():
        for part in job.name.split("/"):
            by_name[_plain(part)] = job
    for name, job in by_name.items():
        if name and (name == wanted or re.search(rf"\b{re.escape(name)}", wanted)):
            return job
    close = difflib.get_close_matches(wanted, list(by_name), n=1, cutoff=0.8)
    return by_name[close[0]] if close else None


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFD", text.lower())
    return " ".join("".join(c for c in text if unicodedata.category(c) != "Mn").replace("-", " ").split())


def occupations_taught(territory_id: str) -> list[CatOccupation]:
    """Occupations a CFA of the territory trains for (the lead form offers these)."""
    with session_scope() as session:
        query = (select(CatOccupation).join(CatCfaTraining, CatCfaTraining.rome == CatOccupation.rome)
                 .join(CatCfa, CatCfa.id == CatCfaTraining.cfa_id).where(CatCfa.territory == territory_id)
                 .distinct().order_by(CatOccupation.name))
        return list(session.scalars(query))


def all_occupations() -> list[CatOccupation]:
    with session_scope() as session:
        return list(session.scalars(select(CatOccupation).order_by(CatOccupation.name)))


def recruiting(territory_id: str) -> list[tuple[CatOccupation, CatRecruitment]]:
    """Occupations a source says recruit in ``territory_id``, newest claims first."""
    with session_scope() as session:
        query = (select(CatOccupation, CatRecruitment)
                 .join(CatRecruitment, CatRecruitment.rome == CatOccupation.rome)
                 .where(CatRecruitment.territory == territory_id, CatRecruitment.recruits.is_(True))
                 .order_by(CatRecruitment.year.desc(), CatOccupation.name))
        return [(o, r) for o, r in session.execute(query)]


def recruitment_checked() -> tuple[date, date]:
    """When the "recruits" claims of occupations.yml were last checked, and when to check again."""
    checked = document("recruitment_checked")
    return date.fromisoformat(checked["verified_on"]), date.fromisoformat(checked["review_on"])


def recruitment(rome: str, territory_id: str) -> CatRecruitment | None:
    with session_scope() as session:
        return session.get(CatRecruitment, (rome, territory_id))


def cfas_teaching(rome: str, territory_id: str | None = None) -> list[tuple[CatCfa, CatCfaTraining]]:
    with session_scope() as session:
        query = (select(CatCfa, CatCfaTraining).join(CatCfaTraining, CatCfaTraining.cfa_id == CatCfa.id)
                 .where(CatCfaTraining.rome == rome).order_by(CatCfa.name, CatCfaTraining.level))
        if territory_id:
            query = query.where(CatCfa.territory == territory_id)
        return [(c, t) for c, t in session.execute(query)]


# -- aids -------------------------------------------------------------------------------
@dataclass(frozen=True)
class AidAmounts:
    aid: CatAid
    items: list[dict[str, Any]]  # amounts in force on the date asked (may be empty)
    period_start: date | None
    period_end: date | None


def aid(aid_id: str) -> CatAid | None:
    with session_scope() as session:
        return session.get(CatAid, aid_id)


def aids() -> list[CatAid]:
    with session_scope() as session:
        return list(session.scalars(select(CatAid).order_by(CatAid.name)))


def aids_for_topic(topic: str) -> list[CatAid]:
    with session_scope() as session:
        return list(session.scalars(select(CatAid).where(CatAid.topic == topic).order_by(CatAid.name)))


def amounts_on(aid_id: str, on: date | None = None) -> AidAmounts | None:
    """The amounts of ``aid_id`` in force on ``on`` (today by default)."""
    on = on or date.today()
    with session_scope() as session:
        row = session.get(CatAid, aid_id)
        if row is None:
            return None
        period = session.scalars(
            select(CatAidPeriod).where(CatAidPeriod.aid_id == aid_id, CatAidPeriod.start <= on)
            .order_by(CatAidPeriod.start.desc())
        ).first()
        if period is None or (period.end is not None and period.end < on):
            return AidAmounts(row, [], None, None)
        return AidAmounts(row, list(period.items), period.start, period.end)


# -- pay --------------------------------------------------------------------------------
@dataclass(frozen=True)
class PayAnswer:
    age: int
    contract_year: int
    territory: str
    percent: int
    monthly_gross: Decimal | None  # None when no SMIC is known for that territory and date
    smic: Decimal | None
    grid: Sourced
    smic_source: Sourced | None


def percent_of_smic(age: int, contract_year: int, rules: dict[str, Any] | None = None) -> int:
    if contract_year not in (1, 2, 3):
        raise ValueError("contract year must be 1, 2 or 3")
    for band in (rules or document("apprentice_pay"))["grid"]:
        if band["min_age"] <= age <= band["max_age"]:
            return int(band[f"year_{contract_year}"])
    raise ValueError(f"no pay band for age {age}")


def apprentice_pay(age: int, contract_year: int, territory_id: str, on: date | None = None) -> PayAnswer:
    """Minimum gross monthly pay, from the grid (% of SMIC) and the territory's SMIC on ``on``."""
    on = on or date.today()
    rules = document("apprentice_pay")
    percent = percent_of_smic(age, contract_year, rules)
    smic, smic_source = None, None
    for group in rules["smic"]:
        if territory_id in group["territories"]:
            current = None
            for period in sorted(group["periods"], key=lambda p: p["start"]):
                if date.fromisoformat(period["start"]) <= on:
                    current = period
            if current is not None:
                smic = Decimal(str(current["monthly_gross"]))
                verified = date.fromisoformat(current["verified_on"])
                smic_source = Sourced(current["source"], verified, date.fromisoformat(rules["review_on"]))
    amount = (smic * percent / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if smic else None
    grid = Sourced(rules["source"], date.fromisoformat(rules["verified_on"]), date.fromisoformat(rules["review_on"]))
    return PayAnswer(age, contract_year, territory_id, percent, amount, smic, grid, smic_source)
