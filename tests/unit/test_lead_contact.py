"""What young people type in the lead form is read, or re-asked with an example."""

from datetime import date

import pytest

from akto_data.leads.contact import EmailCheck, check_email, match_town, normalise_phone, parse_age_or_birth_date

MARTINIQUE = ["Fort-de-France|fdf|foyal", "Le Lamentin", "Saint-Pierre", "Sainte-Luce", "Schœlcher|schoelcher",
              "Les Trois-Îlets"]


@pytest.mark.parametrize(("typed", "stored"), [
    ("0696 12 34 56", "0696123456"),        # Martinique mobile
    ("06.90.12.34.56", "0690123456"),       # Guadeloupe, dots
    ("0692-12-34-56", "0692123456"),        # La Réunion, dashes
    ("0639123456", "0639123456"),           # Mayotte
    ("06 12 34 56 78", "0612345678"),       # Hexagone
    ("+596 696 12 34 56", "+596696123456"),
    ("+262 (0)692 12 34 56", "+262692123456"),
    ("00594 694 12 34 56", "+594694123456"),
    ("+33 6 12 34 56 78", "+33612345678"),
])
def test_overseas_and_mainland_phone_numbers_are_accepted(typed, stored):
    assert normalise_phone(typed) == stored


@pytest.mark.parametrize("typed", ["06961234", "0696 12 34 56 7", "1696123456", "+44 7700 900123", "mon num",
                                   "+596 12"])
def test_wrong_phone_numbers_are_refused(typed):
    assert normalise_phone(typed) is None


def test_email_syntax_and_common_domain_typos():
    assert check_email(" Lea.Martin@Gmail.com ").value == "lea.martin@gmail.com"
    assert check_email("lea@wanadoo.fr").value == "lea@wanadoo.fr"
    assert check_email("lea@cfa-martinique.fr").value == "lea@cfa-martinique.fr"  # unknown domains are fine
    for typo, fixed in (("lea@gmial.com", "lea@gmail.com"), ("lea@hotmial.fr", "lea@hotmail.fr"),
                        ("lea@gmail.fr", "lea@gmail.com"), ("lea@yahooo.fr", "lea@yahoo.fr")):
        checked = check_email(typo)
        assert checked.value is None and checked.suggestion == fixed, typo
    for bad in ("lea", "lea@gmail", "lea@@gmail.com", "lea gmail.com"):
        assert check_email(bad) == EmailCheck(None), bad


@pytest.mark.parametrize(("typed", "town"), [
    ("lamentin", "Le Lamentin"), ("Le Lamentin", "Le Lamentin"), ("fdf", "Fort-de-France"),
    ("fort de france", "Fort-de-France"), ("st pierre", "Saint-Pierre"), ("ste luce", "Sainte-Luce"),
    ("schoelcher", "Schœlcher"), ("trois ilets", "Les Trois-Îlets"), ("lamentn", "Le Lamentin"),
])
def test_towns_of_the_territory_are_recognised_as_typed(typed, town):
    assert match_town(typed, MARTINIQUE) == town


@pytest.mark.parametrize("typed", ["Paris", "Pointe-à-Pitre", "", "jsp"])
def test_towns_elsewhere_are_not_accepted(typed):
    assert match_town(typed, MARTINIQUE) is None


def test_age_from_a_number_or_a_birth_date():
    today = date(2026, 11, 27)
    assert parse_age_or_birth_date("19", today) == 19
    assert parse_age_or_birth_date("g 17 ans", today) == 17
    assert parse_age_or_birth_date("14/02/2007", today) == 19
    assert parse_age_or_birth_date("28/11/2008", today) == 17  # birthday tomorrow
    assert parse_age_or_birth_date("31/02/2007", today) is None
    assert parse_age_or_birth_date("jsp", today) is None
