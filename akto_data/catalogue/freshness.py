"""Facts staff must look at: past their review date, or marked to verify (one source).

The staff console's home page lists them from the database (what runs), the same
rules as ``make content-check`` applies to the YAML files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from akto_data.catalogue.tables import CatAid, CatCfa, CatFaq, CatOccupation, CatRecruitment


@dataclass(frozen=True)
class FactToCheck:
    kind: str  # "aide", "CFA", "FAQ", "recrute"
    key: str
    label: str
    review_on: date | None
    overdue: bool
    to_verify: bool


def facts_to_check(session: Session, today: date | None = None) -> list[FactToCheck]:
    """Overdue facts first (oldest review date first), then those marked to verify."""
    today = today or date.today()
    found: list[FactToCheck] = []
    for kind, table, key, label in (("aide", CatAid, CatAid.id, CatAid.name), ("CFA", CatCfa, CatCfa.id, CatCfa.name),
                                    ("FAQ", CatFaq, CatFaq.topic, CatFaq.topic)):
        rows = session.execute(select(key, label, table.review_on, table.to_verify)
                               .where(or_(table.review_on < today, table.to_verify.is_(True))))
        found.extend(FactToCheck(kind, str(k), str(name), review, review < today, bool(flag))
                     for k, name, review, flag in rows)
    claims = session.execute(select(CatRecruitment.rome, CatRecruitment.territory, CatOccupation.name)
                             .join(CatOccupation, CatOccupation.rome == CatRecruitment.rome)
                             .where(CatRecruitment.to_verify.is_(True)))
    found.extend(FactToCheck("recrute", f"{rome}/{territory}", f"{name} — {territory}", None, False, True)
                 for rome, territory, name in claims)
    return sorted(found, key=lambda f: (not f.overdue, f.review_on or date.max, f.kind, f.key))
