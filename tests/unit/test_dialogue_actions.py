"""Custom actions of issue 3: slot validation, pay answer, fallback, feedback."""

from datetime import date

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionFallback, ActionStoreFeedback
from actions.pay import ActionAnswerPay, parse_age, parse_contract_year, validate_territory_value
from akto_data.review import feedback_by_topic, unanswered

DOMAIN = {"responses": {
    "utter_topic_ask_aids": [{"text": "Les aides"}],
    "utter_topic_ask_driving_licence_aid": [{"text": "L'aide au permis"}],
    "utter_fallback_other_button": [{"text": "Non, autre chose"}],
}}


def user_event(text, intent, confidence=0.9, ranking=None):
    parse = {"text": text, "intent": {"name": intent, "confidence": confidence},
             "intent_ranking": ranking or [{"name": intent, "confidence": confidence}], "entities": []}
    return {"event": "user", "text": text, "parse_data": parse}


def tracker(events, slots=None):
    latest = events[-1]["parse_data"] if events else {}
    return Tracker("c1", slots or {}, latest, events, False, None, {}, "")


@pytest.mark.parametrize(("text", "age"), [("19", 19), ("g 17 ans", 17), ("j'ai 24ans", 24), ("jsp", None)])
def test_age_is_read_from_what_people_type(text, age):
    assert parse_age(text) == age


@pytest.mark.parametrize(("text", "year"), [("1", "1"), ("2eme année", "2"), ("3e", "3"), ("4e", None)])
def test_contract_year_is_read_from_what_people_type(text, year):
    assert parse_contract_year(text) == year


def test_unknown_territory_is_refused(catalogue):
    dispatcher = CollectingDispatcher()
    assert validate_territory_value("paris", dispatcher) == {"territory": None}
    assert dispatcher.messages[0]["response"] == "utter_territory_invalid"


async def pay(slots):
    dispatcher = CollectingDispatcher()
    await ActionAnswerPay().run(dispatcher, tracker([], slots), {})
    assert len(dispatcher.messages) == 1  # one answer, no question before it
    return dispatcher.messages[0]


async def test_pay_answer_for_19_in_martinique_year_1(catalogue):
    message = await pay({"age": "19", "contract_year": "1", "territory": "martinique"})
    assert "43 % du SMIC, soit 783,90\u00a0€ brut par mois en Martinique" in message["text"]
    assert "D6222-26" in message["text"] and "vérifié le" in message["text"]
    assert message["buttons"] == []  # everything that changes the figure is known: nothing to refine
    assert "J'ai compté" not in message["text"] and "Mayotte" not in message["text"]


async def test_pay_answer_with_the_age_only_gives_both_smics_and_says_what_it_assumed(catalogue):
    message = await pay({"age": "20"})
    text = message["text"]
    assert text.startswith("À 20 ans, en 1re année, un apprenti gagne au minimum 43 % du SMIC, soit 783,90")
    assert "au SMIC de l'Hexagone et des DROM hors Mayotte" in text
    assert "À Mayotte, où le SMIC est plus bas : 608,47\u00a0€" in text  # 1 415,05 € × 43 %
    assert "J'ai compté la 1re année de contrat. En 2e année c'est 51 % du SMIC, en 3e année 67 %." in text
    payloads = [b["payload"] for b in message["buttons"]]
    assert '/ask_apprentice_pay{"contract_year":"2"}' in payloads
    assert '/ask_apprentice_pay{"territory":"mayotte"}' in payloads


async def test_pay_answer_at_26_never_offers_the_contract_year(catalogue):
    message = await pay({"age": "27", "territory": "guadeloupe"})
    assert message["text"].startswith("À 27 ans, quelle que soit l'année de contrat, un apprenti gagne au minimum "
                                      "100 % du SMIC, soit 1\u202f823,03\u00a0€ brut par mois en Guadeloupe")
    assert message["buttons"] == [] and "J'ai compté" not in message["text"]
    assert "minimum de ta branche" in message["text"]


async def test_pay_answer_in_mayotte_uses_its_smic(catalogue):
    message = await pay({"age": "17", "contract_year": "2", "territory": "mayotte"})
    assert "39 % du SMIC, soit 551,87\u00a0€ brut par mois à Mayotte" in message["text"]  # 1 415,05 × 39 %


async def test_pay_answer_without_an_age_gives_the_table_and_age_buttons(catalogue):
    message = await pay({})
    text = message["text"]
    assert "• 18 à 20 ans : 43 % / 51 % / 67 %" in text and "• 26 ans et plus : 100 % chaque année" in text
    assert "de 492,22\u00a0€ à 1\u202f823,03\u00a0€" in text and "à Mayotte" in text
    assert [b["title"] for b in message["buttons"]] == ["Moins de 18 ans", "18 à 20 ans", "21 à 25 ans",
                                                        "26 ans et plus"]
    assert message["buttons"][1]["payload"] == '/ask_apprentice_pay{"pay_age_band":"18"}'


async def test_pay_answer_for_an_age_band_button(catalogue):
    message = await pay({"pay_age_band": "21", "territory": "martinique", "contract_year": "1"})
    assert message["text"].startswith("De 21 à 25 ans, en 1re année, un apprenti gagne au minimum 53 % du SMIC")


async def test_pay_answer_ignores_an_impossible_age(catalogue):
    message = await pay({"age": "5"})
    assert "• 18 à 20 ans" in message["text"]  # the table, not a figure for a 5-year-old


def test_mayotte_uses_its_own_smic(cat):
    on = date(2026, 11, 23)
    assert cat.apprentice_pay(19, 1, "mayotte", on).monthly_gross < cat.apprentice_pay(19, 1, "martinique", on).monthly_gross


async def test_fallback_first_suggests_topics_then_offers_options_and_logs(sqlite_db):
    ranking = [{"name": "nlu_fallback", "confidence": 0.45}, {"name": "ask_driving_licence_aid", "confidence": 0.3},
               {"name": "ask_aids", "confidence": 0.2}, {"name": "out_of_scope", "confidence": 0.1}]
    first = [user_event("aide pr conduire ? tel 0696 12 34 56", "nlu_fallback", 0.45, ranking)]
    dispatcher = CollectingDispatcher()
    await ActionFallback().run(dispatcher, tracker(first), DOMAIN)
    buttons = dispatcher.messages[0]["buttons"]
    assert dispatcher.messages[0]["response"] == "utter_did_you_mean"
    assert [b["payload"] for b in buttons] == ["/ask_driving_licence_aid", "/ask_aids", "/fallback_other"]

    second = first + [user_event("bof", "nlu_fallback", 0.3, ranking)]
    dispatcher = CollectingDispatcher()
    await ActionFallback().run(dispatcher, tracker(second), DOMAIN)
    assert dispatcher.messages[0]["response"] == "utter_fallback_options"

    logged = unanswered()
    assert len(logged) == 2 and {r.guessed_topic for r in logged} == {"ask_driving_licence_aid"}
    assert any("[téléphone]" in r.text for r in logged) and not any("0696" in r.text for r in logged)


async def test_feedback_is_stored_with_the_topic_and_thumbs_down_goes_to_review(sqlite_db):
    events = [user_event("aide permis ?", "ask_driving_licence_aid"), user_event("/feedback_negative", "feedback_negative")]
    dispatcher = CollectingDispatcher()
    await ActionStoreFeedback().run(dispatcher, tracker(events), {})
    assert dispatcher.messages[0]["response"] == "utter_feedback_sorry"
    assert [(s.topic, s.helpful, s.not_helpful) for s in feedback_by_topic()] == [("ask_driving_licence_aid", 0, 1)]
    assert [(r.text, r.reason) for r in unanswered()] == [("aide permis ?", "negative_feedback")]
