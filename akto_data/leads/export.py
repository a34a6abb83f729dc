"""``python -m akto_data.leads.export CFA_ID --from AAAA-MM-JJ --to AAAA-MM-JJ``: a CFA's leads as CSV.

Written to standard output (or ``--out FILE``), UTF-8 with a BOM and ``;`` separators
so that it opens as columns in a French spreadsheet. Cells typed by young people go
through :mod:`akto_data.csvsafe`, so a message such as ``=HYPERLINK(...)`` is shown as
text, not run as a formula.
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import UTC, date, datetime, time
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from akto_data.csvsafe import safe_row
from akto_data.db import ensure_schema, session_scope
from akto_data.leads.models import Lead

COLUMNS = ("created_at", "first_name", "age", "minor", "training", "rome", "territory", "town", "diploma_level",
           "start_when", "has_employer", "mobility", "contact_channel", "contact_value", "reasons", "message",
           "score", "status", "consent_version", "idempotency_key")


def export_csv(session: Session, cfa_id: str, start: date, end: date, out: TextIO) -> int:
    """Write the leads of ``cfa_id`` created from ``start`` to ``end`` (inclusive); return how many.

    The caller owns ``session`` (one unit of work) and the schema.
    """
    lower = datetime.combine(start, time.min, tzinfo=UTC)
    upper = datetime.combine(end, time.max, tzinfo=UTC)
    writer = csv.writer(out, delimiter=";")
    writer.writerow(COLUMNS)
    count = 0
    for lead in session.scalars(select(Lead).where(Lead.cfa_id == cfa_id, Lead.created_at >= lower,
                                                   Lead.created_at <= upper).order_by(Lead.created_at)):
        row: list[object] = []
        for column in COLUMNS:
            value = getattr(lead, column)
            if isinstance(value, list):
                value = ", ".join(value)
            elif isinstance(value, datetime):
                value = value.strftime("%Y-%m-%d %H:%M")
            row.append("" if value is None else value)
        writer.writerow(safe_row(row))
        count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Exporte les demandes de contact d'un CFA (CSV).")
    parser.add_argument("cfa_id")
    parser.add_argument("--from", dest="start", type=date.fromisoformat, required=True)
    parser.add_argument("--to", dest="end", type=date.fromisoformat, required=True)
    parser.add_argument("--out", default=None, help="fichier de sortie (défaut : sortie standard)")
    args = parser.parse_args(argv)
    ensure_schema()  # a command started on its own, like the launcher: migrate once, here
    with session_scope() as session:
        if args.out:
            with open(args.out, "w", encoding="utf-8-sig", newline="") as handle:
                count = export_csv(session, args.cfa_id, args.start, args.end, handle)
        else:
            count = export_csv(session, args.cfa_id, args.start, args.end, sys.stdout)
    print(f"{count} demande(s) exportée(s).", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
