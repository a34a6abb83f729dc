"""What young people type in the lead form is read, or re-asked with an example."""

import asyncio
from datetime import date

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.leads import ActionAskLeadContactValue, ValidateLeadForm
from akto_data.leads.contact import (
    EMAIL_MAX_LENGTH,
    PHONE_REGIONS,
    EmailCheck,
    check_email,
    check_phone,
    display_phone,
    example_phone,
    match_town,
    normalise_phone,
    parse_age_or_birth_date,
)

MARTINIQUE = ["Fort-de-France|fdf|foyal", "Le Lamentin", "Saint-Pierre", "Sainte-Luce", "Schœlcher|schoelcher",
              "Les Trois-Îlets"]


@pytest.mark.parametrize(("typed", "territory", "stored"), [
    ("0696 12 34 56", "martinique", "+596696123456"),     # Martinique mobile
    ("06/96/12/34/56", "martinique", "+596696123456"),    # slashes
    ("(0596) 61 23 45", "martinique", "+596596612345"),   # Martinique fixed line
    ("06.90.12.34.56", "guadeloupe", "+590690123456"),    # Guadeloupe, dots
    ("0692-12-34-56", "reunion", "+262692123456"),        # La Réunion, dashes
    ("0639 01 23 45", "mayotte", "+262639012345"),        # Mayotte
    ("06 12 34 56 78", "hexagone", "+33612345678"),       # Hexagone
    ("09 70 12 34 56", "hexagone", "+33970123456"),       # internet box line
    ("0696 12 34 56", "guadeloupe", "+596696123456"),     # a Martinique mobile of someone in Guadeloupe
    ("0612345678", "martinique", "+33612345678"),         # a Hexagone mobile of someone in Martinique
    ("0262 12 34 56", "hexagone", "+262262123456"),       # 02 62 is La Réunion, not the Hexagone
    ("+596 696 12 34 56", None, "+596696123456"),
    ("+262 (0)692 12 34 56", "martinique", "+262692123456"),
    ("00594 694 12 34 56", None, "+594694123456"),
    ("+33 6 12 34 56 78", "reunion", "+33612345678"),
])
def test_finding_16_phone_numbers_are_stored_in_e164(typed, territory, stored):
    assert check_phone(typed, territory).value == stored
    assert normalise_phone(typed, territory) == stored


@pytest.mark.parametrize("typed", ["+33 696 12 34 56", "+590 612345678", "+262 123456789", "0700000000",
                                   "0639 12 34 56", "06961234", "0696 12 34 56 7", "1696123456", "+44 7700 900123",
                                   "+44 7911 123456", "mon num", "06 CALL ME", "+596 12", ""])
def test_finding_16_numbers_that_do_not_exist_or_are_foreign_are_refused(typed):
    assert check_phone(typed, "martinique").value is None
    assert not check_phone(typed, "martinique").not_personal


@pytest.mark.parametrize("typed", ["0812345678", "08 92 12 34 56", "0800 12 34 56", "+33 8 92 12 34 56"])
def test_finding_16_premium_rate_and_service_numbers_are_refused(typed):
    checked = check_phone(typed, "hexagone")
    assert checked.value is None and checked.not_personal


@pytest.mark.parametrize("territory", [*PHONE_REGIONS, None])
def test_finding_16_example_shown_to_young_people_is_a_valid_number_of_their_territory(territory):
    example = example_phone(territory)
    assert check_phone(example, territory).value is not None, example
    assert example != "0639 12 34 56"  # the old Mayotte example did not exist
    assert display_phone(check_phone(example, territory).value or "") == example


def form_tracker(slots):
    latest = {"text": "", "intent": {"name": "inform", "confidence": 1.0}, "entities": []}
    return Tracker("chat-7", slots, latest, [], False, None, {}, "")


def test_finding_16_form_refuses_a_premium_number_and_shows_the_territory_example():
    dispatcher = CollectingDispatcher()
    result = ValidateLeadForm().validate_lead_contact_value("08 92 12 34 56", dispatcher, form_tracker(
        {"lead_contact_channel": "phone", "territory": "mayotte"}), {})
    assert result == {"lead_contact_value": None}
    assert "surtaxé" in dispatcher.messages[0]["text"] and "0639 01 23 45" in dispatcher.messages[0]["text"]
    ok = ValidateLeadForm().validate_lead_contact_value("0639 01 23 45", CollectingDispatcher(), form_tracker(
        {"lead_contact_channel": "phone", "territory": "mayotte"}), {})
    assert ok == {"lead_contact_value": "+262639012345"}
    asked = CollectingDispatcher()
    asyncio.run(ActionAskLeadContactValue().run(asked, form_tracker(
        {"lead_contact_channel": "phone", "territory": "mayotte"}), {}))
    assert asked.messages[0]["text"].endswith("0639 01 23 45")


def test_email_syntax_and_common_domain_typos():
    assert check_email(" Lea.Martin@Gmail.com ").value == "lea.martin@gmail.com"
    assert check_email("lea@wanadoo.fr").value == "lea@wanadoo.fr"
    assert check_email("lea@cfa-martinique.fr").value == "lea@cfa-martinique.fr"  # unknown domains are fine
    for typo, fixed in (("lea@gmial.com", "lea@gmail.com"), ("lea@hotmial.fr", "lea@hotmail.fr"),
                        ("lea@gmail.fr", "lea@gmail.com"), ("lea@yahooo.fr", "lea@yahoo.fr"),
                        ("lea@gmail.c", "lea@gmail.com")):
        checked = check_email(typo)
        assert checked.value is None and checked.suggestion == fixed, typo
    for bad in ("lea", "lea@gmail", "lea@@gmail.com", "lea gmail.com"):
        assert check_email(bad) == EmailCheck(None), bad


@pytest.mark.parametrize("bad", ["a..b@gmail.com", "a@-b.com", "lea.@gmail.com", "lea..martin@gmail.com",
                                 "kévin@gmail.com", "lea@cfa.c", "lea@test.test", "Léa <lea@gmail.com>"])
def test_finding_17_email_syntax_is_checked_by_email_validator(bad):
    assert check_email(bad) == EmailCheck(None)


def test_finding_17_email_longer_than_the_contact_column_gets_a_clear_message():
    address = "l" * 60 + "@" + ".".join(["cfa-martinique"] * 14) + ".fr"
    assert len(address) > EMAIL_MAX_LENGTH
    assert check_email(address) == EmailCheck(None, too_long=True)
    dispatcher = CollectingDispatcher()
    result = ValidateLeadForm().validate_lead_contact_value(address, dispatcher, form_tracker(
        {"lead_contact_channel": "email"}), {})
    assert result == {"lead_contact_value": None}
    assert dispatcher.messages[0]["text"].startswith("Cette adresse est trop longue")
    assert f"{EMAIL_MAX_LENGTH} au plus" in dispatcher.messages[0]["text"]


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


def test_a_commune_of_one_territory_gives_it_a_shared_name_gives_nothing():
    from akto_data.leads.contact import town_anywhere
    places = [("martinique", ["Schœlcher|schoelcher", "Le Lamentin", "Fort-de-France|fdf"]),
              ("guadeloupe", ["Lamentin", "Pointe-à-Pitre|pap"]), ("guyane", ["Kourou"])]
    assert town_anywhere("Schœlcher", places) == ("martinique", "Schœlcher")
    assert town_anywhere("j'habite à kourou", places) == ("guyane", "Kourou")
    assert town_anywhere("je suis a pap", places) == ("guadeloupe", "Pointe-à-Pitre")
    assert town_anywhere("lamentin", places) is None
    assert town_anywhere("paris", places) is None
