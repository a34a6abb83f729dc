"""What the assistant reads from the catalogue (after :mod:`.importer` ran).

Reads go through a :class:`Catalogue` bound to the caller's session: an action or a
handler opens one unit of work (:func:`akto_data.db.session_scope`) and every read of
that answer shares it, instead of a new session per query.

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
from sqlalchemy.orm import Session

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


@dataclass(frozen=True)
class Sourced:
    """Provenance of a fact, as shown to the user."""

    source: str
    verified_on: date
    review_on: date

    def stale(self, today: date | None = None) -> bool:
        return (today or date.today()) > self.review_on


class Catalogue:
    """The catalogue as one unit of work reads it (one session for every read of an answer)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def territory(self, territory_id: str) -> CatTerritory | None:
        return self.session.get(CatTerritory, territory_id)

    def territories(self) -> list[CatTerritory]:
        return list(self.session.scalars(select(CatTerritory).order_by(CatTerritory.id)))

    def faq(self, topic: str) -> tuple[str, Sourced] | None:
        row = self.session.get(CatFaq, topic)
        return (row.answer, Sourced(row.source, row.verified_on, row.review_on)) if row else None

    def document(self, name: str) -> dict[str, Any]:
        row = self.session.get(CatDocument, name)
        if row is None:
            raise LookupError(f"catalogue document {name!r} missing: run the catalogue import")
        return dict(row.data)

    # -- occupations --------------------------------------------------------------------
    def occupation(self, rome: str) -> CatOccupation | None:
        return self.session.get(CatOccupation, rome)

    def occupation_named(self, typed: str) -> CatOccupation | None:
        """The occupation whose name the user typed, misspelt or inside a sentence ("jveu etre boulangere")."""
        wanted = _plain(typed)
        if not wanted:
            return None
        by_name: dict[str, CatOccupation] = {}
        for job in self.all_occupations():
            for part in job.name.split("/"):
                by_name[_plain(part)] = job
        for name, job in by_name.items():
            if name and (name == wanted or re.search(rf"\b{re.escape(name)}", wanted)):
                return job
        close = difflib.get_close_matches(wanted, list(by_name), n=1, cutoff=0.8)
        return by_name[close[0]] if close else None

    def occupations_taught(self, territory_id: str) -> list[CatOccupation]:
        """Occupations a CFA of the territory trains for (the lead form offers these)."""
        # IN, not JOIN + DISTINCT: PostgreSQL has no equality for the JSON columns DISTINCT would compare.
        taught = (select(CatCfaTraining.rome).join(CatCfa, CatCfa.id == CatCfaTraining.cfa_id)
                  .where(CatCfa.territory == territory_id))
        query = select(CatOccupation).where(CatOccupation.rome.in_(taught)).order_by(CatOccupation.name)
        return list(self.session.scalars(query))

    def all_occupations(self) -> list[CatOccupation]:
        return list(self.session.scalars(select(CatOccupation).order_by(CatOccupation.name)))

    def recruiting(self, territory_id: str) -> list[tuple[CatOccupation, CatRecruitment]]:
        """Occupations a source says recruit in ``territory_id``, newest claims first."""
        query = (select(CatOccupation, CatRecruitment)
                 .join(CatRecruitment, CatRecruitment.rome == CatOccupation.rome)
                 .where(CatRecruitment.territory == territory_id, CatRecruitment.recruits.is_(True))
                 .order_by(CatRecruitment.year.desc(), CatOccupation.name))
        return [(o, r) for o, r in self.session.execute(query).all()]

    def recruitment_checked(self) -> tuple[date, date]:
        """When the "recruits" claims of occupations.yml were last checked, and when to check again."""
        checked = self.document("recruitment_checked")
        return date.fromisoformat(checked["verified_on"]), date.fromisoformat(checked["review_on"])

    def recruitment(self, rome: str, territory_id: str) -> CatRecruitment | None:
        return self.session.get(CatRecruitment, (rome, territory_id))

    def cfas_teaching(self, rome: str, territory_id: str | None = None) -> list[tuple[CatCfa, CatCfaTraining]]:
        query = (select(CatCfa, CatCfaTraining).join(CatCfaTraining, CatCfaTraining.cfa_id == CatCfa.id)
                 .where(CatCfaTraining.rome == rome).order_by(CatCfa.name, CatCfaTraining.level, CatCfa.id, CatCfaTraining.diploma))
        if territory_id:
            query = query.where(CatCfa.territory == territory_id)
        return [(c, t) for c, t in self.session.execute(query).all()]

    # -- aids ---------------------------------------------------------------------------
    def aid(self, aid_id: str) -> CatAid | None:
        return self.session.get(CatAid, aid_id)

    def aids(self) -> list[CatAid]:
        return list(self.session.scalars(select(CatAid).order_by(CatAid.name)))

    def aids_for_topic(self, topic: str) -> list[CatAid]:
        return list(self.session.scalars(select(CatAid).where(CatAid.topic == topic).order_by(CatAid.name)))

    def amounts_on(self, aid_id: str, on: date | None = None) -> AidAmounts | None:
        """The amounts of ``aid_id`` in force on ``on`` (today by default)."""
        on = on or date.today()
        row = self.session.get(CatAid, aid_id)
        if row is None:
            return None
        period = self.session.scalars(
            select(CatAidPeriod).where(CatAidPeriod.aid_id == aid_id, CatAidPeriod.start <= on)
            .order_by(CatAidPeriod.start.desc())
        ).first()
        if period is None or (period.end is not None and period.end < on):
            return AidAmounts(row, [], None, None)
        return AidAmounts(row, list(period.items), period.start, period.end)

    # -- pay ----------------------------------------------------------------------------
    def apprentice_pay(self, age: int, contract_year: int, territory_id: str, on: date | None = None) -> PayAnswer:
        """Minimum gross monthly pay, from the grid (% of SMIC) and the territory's SMIC on ``on``."""
        return pay_from_rules(self.document("apprentice_pay"), age, contract_year, territory_id, on)


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFD", text.lower())
    return " ".join("".join(c for c in text if unicodedata.category(c) != "Mn").replace("-", " ").split())


@dataclass(frozen=True)
class AidAmounts:
    aid: CatAid
    items: list[dict[str, Any]]  # amounts in force on the date asked (may be empty)
    period_start: date | None
    period_end: date | None


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


def percent_of_smic(age: int, contract_year: int, rules: dict[str, Any]) -> int:
    if contract_year not in (1, 2, 3):
        raise ValueError("contract year must be 1, 2 or 3")
    for band in rules["grid"]:
        if band["min_age"] <= age <= band["max_age"]:
            return int(band[f"year_{contract_year}"])
    raise ValueError(f"no pay band for age {age}")


def pay_from_rules(rules: dict[str, Any], age: int, contract_year: int, territory_id: str,
                   on: date | None = None) -> PayAnswer:
    """Minimum gross monthly pay, from the grid (% of SMIC) and the territory's SMIC on ``on``."""
    on = on or date.today()
    percent = percent_of_smic(age, contract_year, rules)
    found = next((group for group in smic_on(rules, on) if territory_id in group.territories), None)
    smic = found.monthly_gross if found else None
    amount = (smic * percent / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if smic else None
    grid = Sourced(rules["source"], date.fromisoformat(rules["verified_on"]), date.fromisoformat(rules["review_on"]))
    return PayAnswer(age, contract_year, territory_id, percent, amount, smic, grid, found.source if found else None)


@dataclass(frozen=True)
class Smic:
    territories: tuple[str, ...]
    monthly_gross: Decimal
    source: Sourced


def smic_on(rules: dict[str, Any], on: date) -> list[Smic]:
    """The SMIC of each territory group in force on ``on`` (groups without one are left out)."""
    review = date.fromisoformat(rules["review_on"])
    found = []
    for group in rules["smic"]:
        current = None
        for period in sorted(group["periods"], key=lambda p: p["start"]):
            if date.fromisoformat(period["start"]) <= on:
                current = period
        if current is not None:
            source = Sourced(current["source"], date.fromisoformat(current["verified_on"]), review)
            found.append(Smic(tuple(group["territories"]), Decimal(str(current["monthly_gross"])), source))
    return found
