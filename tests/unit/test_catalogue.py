"""The catalogue: checked files, all-or-nothing import, dated amounts, sourced answers."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal

import pytest

from actions.answers import aid_text
from actions.sourcing import source_lines
from akto_data.catalogue import queries
from akto_data.catalogue.importer import import_catalogue
from akto_data.catalogue.queries import Catalogue
from akto_data.catalogue.yamlsource import ContentFileError
from akto_data.db import session_scope
from akto_data.settings import CONTENT_DIR


def reading_count() -> int:
    with session_scope() as session:
        return len(Catalogue(session).all_occupations())


def no_aid(aid_id: str) -> bool:
    with session_scope() as session:
        return Catalogue(session).aid(aid_id) is None


@pytest.fixture
def content(tmp_path):
    target = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, target)
    return target


def test_a_bad_file_names_file_line_entry_and_fix_and_nothing_is_imported(sqlite_db, content):
    import_catalogue(content)
    before = reading_count()
    path = content / "occupations.yml"
    text = path.read_text()
    path.write_text(text.replace("level: 3}", "level: 9}", 1))
    faq = content / "faq.yml"
    faq.write_text(faq.read_text().replace("topic: ask_poec", "topic: ask_poec\n    answer_typo: x", 1))
    (content / "aids.yml").write_text((content / "aids.yml").read_text() + "\n  - id: Bad Id\n")
    with pytest.raises(ContentFileError) as raised:
        import_catalogue(content)
    messages = [str(e) for e in raised.value.errors]
    line = text[: text.index("level: 3}")].count("\n") + 1
    assert any(m.startswith(f"occupations.yml:{line} [K2503]") and "niveau de diplôme 9" in m for m in messages)
    assert any(m.startswith("aids.yml:") and "id invalide" in m and "minuscules" in m for m in messages)
    assert reading_count() == before  # nothing half-imported


def test_yaml_syntax_error_points_to_the_line(sqlite_db, content):
    (content / "cfas.yml").write_text("cfas:\n  - id: x\n    name: [oops\n")
    with pytest.raises(ContentFileError) as raised:
        import_catalogue(content)
    assert str(raised.value.errors[0]).startswith("cfas.yml:")


def test_import_reports_added_changed_removed(sqlite_db, content):
    first = import_catalogue(content)
    assert first.added["métiers"] == 28 and first.added["aides"] >= 7
    faq = content / "faq.yml"
    faq.write_text(faq.read_text().replace("L'apprentissage, c'est", "L'alternance en apprentissage, c'est", 1))
    aids = (content / "aids.yml").read_text()
    start = aids.index("  - id: cadres_avenir")
    end = aids.find("\n  - id:", start + 5)
    (content / "aids.yml").write_text(aids[:start] + (aids[end + 1:] if end != -1 else ""))
    second = import_catalogue(content)
    assert second.changed["réponses FAQ"] == 1
    assert second.removed["aides"] == 1 and no_aid("cadres_avenir")
    assert import_catalogue(content).lines() == ["  rien n'a changé"]


# -- pay: every age band and year, in Martinique and in Mayotte (own SMIC) --------------
GRID = {(16, 1): 27, (16, 2): 39, (16, 3): 55, (19, 1): 43, (19, 2): 51, (19, 3): 67,
        (23, 1): 53, (23, 2): 61, (23, 3): 78, (27, 1): 100, (27, 2): 100, (27, 3): 100}


@pytest.mark.parametrize(("age", "year"), sorted(GRID))
@pytest.mark.parametrize(("territory", "smic"), [("martinique", "1823.03"), ("mayotte", "1415.05")])
def test_pay_for_every_age_band_and_year(cat, age, year, territory, smic):
    answer = cat.apprentice_pay(age, year, territory, on=date(2026, 6, 1))
    expected = (Decimal(smic) * GRID[(age, year)] / 100).quantize(Decimal("0.01"))
    assert answer.percent == GRID[(age, year)] and answer.monthly_gross == expected


def test_the_pay_example_of_the_issue(cat):
    assert cat.apprentice_pay(19, 1, "martinique", on=date(2026, 11, 23)).monthly_gross == Decimal("783.90")


def test_pay_uses_the_smic_of_the_date_asked(cat):
    assert cat.apprentice_pay(19, 1, "martinique", on=date(2025, 6, 1)).smic == Decimal("1801.80")
    assert cat.apprentice_pay(19, 1, "mayotte", on=date(2025, 6, 1)).monthly_gross is None  # no 2025 figure


# -- employer aid: one date in each period, and the gap -------------------------------
@pytest.mark.parametrize(("day", "amounts"), [
    (date(2023, 6, 1), {6000}),
    (date(2024, 6, 1), {6000}),
    (date(2025, 1, 15), set()),  # no aid between 1 Jan and 23 Feb 2025
    (date(2025, 6, 1), {5000, 2000, 6000}),
    (date(2026, 2, 1), {5000, 6000}),
    (date(2026, 11, 23), {5000, 4500, 2000, 1500, 750, 6000}),
])
def test_employer_aid_uses_the_period_of_the_date(cat, day, amounts):
    current = cat.amounts_on("employer_hiring_aid", day)
    assert {item["amount"] for item in current.items} == amounts


def test_driving_licence_aid_answer_has_amount_and_source(cat):
    text = aid_text(cat, "state_driving_licence")
    assert "500\u00a0€" in text and "Source : " in text and "vérifié le" in text


def test_every_aid_and_faq_answer_carries_a_source(cat):
    for aid in cat.aids():
        assert "Source : " in aid_text(cat, aid.id), aid.id
    for topic in ("ask_apprenticeship_age", "ask_contract_types", "ask_poec", "ask_akto"):
        answer, sourced = cat.faq(topic)
        assert answer and sourced.source


def test_a_fact_past_its_review_date_is_marked_to_check():
    fact = queries.Sourced("Décret X", date(2025, 1, 1), date(2025, 12, 31))
    assert "À vérifier" in source_lines(fact, today=date(2026, 1, 2))
    assert "À vérifier" not in source_lines(fact, today=date(2025, 6, 1))
    with pytest.raises(ValueError):
        source_lines(None)


def test_a_territory_without_communes_or_a_webhook_without_secret_is_refused(sqlite_db, content):
    territories = content / "territories.yml"
    text = territories.read_text()
    start = text.index("    towns:")  # the first territory's communes (Guadeloupe)
    end = text.index("  - id: martinique")
    territories.write_text(text[:start] + text[end:])
    example = content / "cfa_delivery.example.yml"
    example.write_text(example.read_text().replace(
        'mq_cma: {email: "leads@mq-cma.example", webhook_url: null}',
        'mq_cma: {email: "leads@mq-cma.example", webhook_url: "https://cma.example/hook"}'))
    with pytest.raises(ContentFileError) as raised:
        import_catalogue(content)
    messages = [str(e) for e in raised.value.errors]
    assert any(m.startswith("territories.yml:4 [guadeloupe]") and "towns" in m for m in messages), messages
    assert any(m.startswith("cfa_delivery.example.yml:") and "webhook_secret" in m for m in messages), messages
