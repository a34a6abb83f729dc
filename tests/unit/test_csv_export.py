"""CSV files staff open in a spreadsheet show what young people typed as text (issue #10, finding 4)."""

from __future__ import annotations

import csv
import io

import pytest

from akto_data.csvsafe import safe_cell, safe_row
from akto_data.db import session_scope
from akto_data.leads.export import export_csv, main
from akto_data.leads.models import Lead
from akto_data.models import utcnow

EVIL = '=HYPERLINK("https://evil.example/cv","Voir mon CV")'


def add_lead(chat_id: str, **fields: object) -> None:
    values: dict[str, object] = {
        "idempotency_key": f"key-{chat_id}", "chat_id": chat_id, "cfa_id": "mq_umih", "rome": "G1602",
        "training": "CAP Cuisine", "first_name": "Léa", "age": 19, "territory": "martinique",
        "town": "Le Lamentin", "diploma_level": 3, "contact_channel": "phone",
        "contact_value": "+596696123456", "reasons": ["places"], "consent_version": "v1", "score": 60,
    }
    values.update(fields)
    with session_scope() as session:
        session.add(Lead(**values))


def exported_rows(path: str) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def test_finding_4_formula_typed_by_a_young_person_is_exported_as_text(sqlite_db, tmp_path):
    add_lead("1", message=EVIL, first_name="@Léa", town="-Lamentin")
    add_lead("2", message="Bonjour, je suis motivée !")
    out = tmp_path / "leads.csv"
    today = utcnow().date()
    assert main(["mq_umih", "--from", str(today), "--to", str(today), "--out", str(out)]) == 0
    evil, plain = exported_rows(str(out))
    # A spreadsheet shows a cell starting with ' as text: no live link, no formula.
    assert evil["message"] == "'" + EVIL
    assert evil["first_name"] == "'@Léa" and evil["town"] == "'-Lamentin"
    assert evil["contact_value"] == "'+596696123456"  # still a readable phone number
    assert plain["message"] == "Bonjour, je suis motivée !" and plain["first_name"] == "Léa"
    assert plain["age"] == "19" and plain["score"] == "60"  # numbers stay numbers
    for row in (evil, plain):
        assert not any(value.startswith(("=", "+", "-", "@", "\t", "\r")) for value in row.values())


def test_finding_4_export_runs_in_the_callers_session(sqlite_db):
    add_lead("1", message="+33 6 12 34 56 78 ou =1+1")
    buffer = io.StringIO()
    today = utcnow().date()
    with session_scope() as session:
        assert export_csv(session, "mq_umih", today, today, buffer) == 1
    row = next(csv.DictReader(io.StringIO(buffer.getvalue()), delimiter=";"))
    assert row["message"] == "'+33 6 12 34 56 78 ou =1+1"


@pytest.mark.parametrize(("value", "cell"), [
    ("=1+1", "'=1+1"), ("+596696123456", "'+596696123456"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1+1", "'\t=1+1"), ("\r=1+1", "'\r=1+1"), ("＝1+1", "'＝1+1"),
    ("Léa", "Léa"), ("0696 12 34 56", "0696 12 34 56"), ("a=b", "a=b"), ("", ""),
    (19, 19), (-3, -3), (None, None), (True, True),
])
def test_finding_4_neutraliser_is_reusable_for_every_csv(value, cell):
    assert safe_cell(value) == cell
    assert safe_row([value, "ok"]) == [cell, "ok"]
