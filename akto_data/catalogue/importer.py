"""Import the checked content files into the database, all or nothing.

``python -m akto_data.catalogue.importer`` (``make content-import``) checks every
file first; with any error nothing is written. Otherwise the catalogue tables are
replaced in one transaction and the report says what was added, changed and removed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import delete, inspect, select
from sqlalchemy.orm import Mapper, Session

from akto_data.catalogue.documents import files_digest
from akto_data.catalogue.schema import Catalogue, check_documents, read_documents
from akto_data.catalogue.tables import (
    CatAid,
    CatAidPeriod,
    CatCfa,
    CatCfaDelivery,
    CatCfaTraining,
    CatDocument,
    CatFaq,
    CatOccupation,
    CatRecruitment,
    CatTerritory,
)
from akto_data.catalogue.yamlsource import ContentFileError
from akto_data.db import create_schema, session_scope
from akto_data.settings import CONTENT_DIR

#: Import order (parents before children); deletion runs in reverse.
TABLES = (CatTerritory, CatOccupation, CatRecruitment, CatAid, CatAidPeriod, CatCfa, CatCfaTraining,
          CatCfaDelivery, CatFaq, CatDocument)
LABELS = {CatTerritory: "territoires", CatOccupation: "métiers", CatRecruitment: "métiers qui recrutent",
          CatAid: "aides", CatAidPeriod: "périodes de montants", CatCfa: "CFA", CatCfaTraining: "formations",
          CatCfaDelivery: "adresses de livraison", CatFaq: "réponses FAQ", CatDocument: "documents"}


def jsonable(value: Any) -> Any:
    """Plain JSON data (dates as ISO strings), so JSON columns compare and store alike."""
    return json.loads(json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, date) else str(v)))


def rows_of(catalogue: Catalogue) -> dict[type, list[dict[str, Any]]]:
    rows: dict[type, list[dict[str, Any]]] = {table: [] for table in TABLES}
    for t in catalogue.territories:
        rows[CatTerritory].append({"id": t["id"], "name": t["name"], "in_the": t["in_the"], "locale": t["locale"],
                                   "timezone": t["timezone"], "destination_only": bool(t.get("destination_only")),
                                   "towns": jsonable(t.get("towns") or [])})
    for o in catalogue.occupations:
        rows[CatOccupation].append({"rome": o["rome"], "name": o["name"], "what_you_do": o["what_you_do"],
                                    "where": o["where"], "qualities": jsonable(o["qualities"]),
                                    "interests": jsonable(o["interests"]), "diplomas": jsonable(o["diplomas"])})
        for claim in o.get("recruits") or []:
            rows[CatRecruitment].append({"rome": o["rome"], "territory": claim["territory"],
                                         "recruits": claim["recruits"], "source": claim["source"],
                                         "year": claim["year"], "to_verify": bool(claim.get("to_verify"))})
    for a in catalogue.aids:
        rows[CatAid].append({"id": a["id"], "name": a["name"], "topic": a["topic"], "summary": a["summary"],
                             "how_to_apply": a["how_to_apply"], "who_to_ask": a["who_to_ask"],
                             "eligibility": jsonable(a.get("eligibility") or {}),
                             "cumulates_with": jsonable(a.get("cumulates_with") or []), "source": a["source"],
                             "verified_on": a["verified_on"], "review_on": a["review_on"],
                             "to_verify": bool(a.get("to_verify"))})
        for period in a.get("amounts") or []:
            rows[CatAidPeriod].append({"aid_id": a["id"], "start": period["start"], "end": period.get("end"),
                                       "items": jsonable(period.get("items") or [])})
    for c in catalogue.cfas:
        rows[CatCfa].append({"id": c["id"], "name": c["name"], "town": c["town"], "territory": c["territory"],
                             "source": c["source"], "verified_on": c["verified_on"], "review_on": c["review_on"],
                             "to_verify": bool(c.get("to_verify"))})
        for training in c["trainings"]:
            rows[CatCfaTraining].append({"cfa_id": c["id"], "rome": training["rome"],
                                         "diploma": training["diploma"], "level": training["level"]})
    for cfa_id, settings in (catalogue.delivery or {}).items():
        rows[CatCfaDelivery].append({"cfa_id": cfa_id, "email": settings["email"],
                                     "webhook_url": settings.get("webhook_url"),
                                     "webhook_secret": settings.get("webhook_secret")})
    for f in catalogue.faq:
        rows[CatFaq].append({"topic": f["topic"], "answer": f["answer"], "source": f["source"],
                             "verified_on": f["verified_on"], "review_on": f["review_on"],
                             "to_verify": bool(f.get("to_verify"))})
    rows[CatDocument].append({"name": "quiz", "data": jsonable(catalogue.quiz)})
    rows[CatDocument].append({"name": "recruitment_checked", "data": jsonable(catalogue.occupations_checked)})
    rows[CatDocument].append({"name": "apprentice_pay", "data": jsonable(catalogue.pay)})
    # Where a shared Telegram location is matched (bot.location); a document, not columns: only the bot reads it.
    rows[CatDocument].append({"name": "territory_areas", "data": jsonable(
        {t["id"]: {"lat": t["center"]["lat"], "lon": t["center"]["lon"], "radius_km": t["radius_km"]}
         for t in catalogue.territories if t.get("center")})})
    return rows


@dataclass
class ImportReport:
    added: Counter = field(default_factory=Counter)
    changed: Counter = field(default_factory=Counter)
    removed: Counter = field(default_factory=Counter)
    details: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        for table in TABLES:
            label = LABELS[table]
            a, c, r = self.added[label], self.changed[label], self.removed[label]
            if a or c or r:
                out.append(f"  {label:24s} +{a} ajouté(s)  ~{c} modifié(s)  -{r} supprimé(s)")
        return out or ["  rien n'a changé"]


def _key(table: type, row: dict[str, Any]) -> tuple[Any, ...]:
    mapper: Mapper[Any] = inspect(table)
    return tuple(row[str(column.key)] for column in mapper.primary_key)


def _existing(session: Session, table: type) -> dict[tuple[Any, ...], dict[str, Any]]:
    mapper: Mapper[Any] = inspect(table)
    columns = [c.key for c in mapper.columns]
    result = {}
    obj: Any
    for obj in session.scalars(select(table)):
        row = {c: getattr(obj, c) for c in columns}
        result[_key(table, row)] = row
    return result


def replace_tables(session: Session, catalogue: Catalogue) -> ImportReport:
    """Replace every catalogue table with ``catalogue`` in the caller's transaction; say what changed.

    ``catalogue.delivery`` None (the staff console, or a directory without a delivery
    file) keeps the delivery settings in force, for the CFAs still published.
    """
    new_rows = rows_of(catalogue)
    if catalogue.delivery is None:
        cfas = {row["id"] for row in new_rows[CatCfa]}
        new_rows[CatCfaDelivery] = [row for row in _existing(session, CatCfaDelivery).values() if row["cfa_id"] in cfas]
    report = ImportReport()
    for table in TABLES:
        label = LABELS[table]
        old = _existing(session, table)
        new = {_key(table, row): row for row in new_rows[table]}
        for _added in new.keys() - old.keys():
            report.added[label] += 1
        for key in old.keys() - new.keys():
            report.removed[label] += 1
            report.details.append(f"supprimé : {label} {key}")
        for key in new.keys() & old.keys():
            if jsonable(new[key]) != jsonable(old[key]):
                report.changed[label] += 1
    for table in reversed(TABLES):
        session.execute(delete(table))
    session.flush()
    for table in TABLES:
        session.add_all(table(**row) for row in new_rows[table])
    session.flush()
    return report


def import_catalogue(directory: Path = CONTENT_DIR, topics: set[str] | None = None,
                     author: str | None = None) -> ImportReport:
    """Check then import; raises :class:`ContentFileError` (nothing written) on bad content.

    A change of the published documents is recorded as a new content version (see
    :mod:`akto_data.catalogue.publishing`), as a console publish is.
    """
    from akto_data.catalogue.publishing import import_documents

    documents, delivery, errors = read_documents(directory)
    catalogue, problems = check_documents(documents, topics, delivery)
    if errors or problems:
        raise ContentFileError(errors + problems)
    create_schema()
    with session_scope() as session:
        return import_documents(session, documents, catalogue, author=author or yaml_author(),
                                files_digest=files_digest(directory))


def yaml_author() -> str:
    """Who imports content/ from the command line (the audit log's "who")."""
    import getpass

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "?"
    return f"{user} (content/, YAML)"


def domain_topics() -> set[str]:
    """Intent names of the Rasa domain, so FAQ topics can be checked against them."""
    import yaml

    from akto_data.settings import PROJECT_ROOT

    topics: set[str] = set()
    for path in sorted((PROJECT_ROOT / "domain").rglob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        topics |= {i if isinstance(i, str) else next(iter(i)) for i in data.get("intents") or []}
    return topics


def main() -> int:
    parser = argparse.ArgumentParser(description="Importe le catalogue (content/) dans la base, tout ou rien.")
    parser.add_argument("--content", type=Path, default=CONTENT_DIR)
    args = parser.parse_args()
    try:
        report = import_catalogue(args.content, domain_topics())
    except ContentFileError as exc:
        print(f"Catalogue NON importé : {len(exc.errors)} erreur(s). Rien n'a changé dans la base.")
        for error in exc.errors:
            print(f"  {error}")
        return 1
    print("Catalogue importé :")
    print("\n".join(report.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
