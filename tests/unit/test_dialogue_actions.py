"""Custom actions of issue 3: slot validation, pay answer, fallback, feedback."""

from datetime import date

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionFallback, ActionStoreFeedback
from actions.pay import ActionAnswerPay, ValidatePayForm, parse_age, parse_contract_year
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


def test_impossible_age_is_asked_again_with_the_rules():
    dispatcher = CollectingDispatcher()
    assert ValidatePayForm().validate_age("12", dispatcher, tracker([]), {}) == {"age": None}
    assert dispatcher.messages[0]["response"] == "utter_age_out_of_range"
    dispatcher = CollectingDispatcher()
    assert ValidatePayForm().validate_age("jsp", dispatcher, tracker([]), {}) == {"age": None}
    assert dispatcher.messages[0]["response"] == "utter_age_invalid"


def test_unknown_territory_is_refused(catalogue):
    dispatcher = CollectingDispatcher()
    assert ValidatePayForm().validate_territory("paris", dispatcher, tracker([]), {}) == {"territory": None}


async def test_pay_answer_for_19_in_martinique_year_1(catalogue):
    dispatcher = CollectingDispatcher()
    await ActionAnswerPay().run(dispatcher, tracker([], {"age": "19", "contract_year": "1", "territory": "martinique"}), {})
    message = dispatcher.messages[0]
    assert message["response"] == "utter_pay_result"
    assert message["percent"] == 43 and message["amount"] == "783,90\u00a0€"
    assert "D6222-26" in message["sources"] and "vérifié le" in message["sources"]
    assert message["territory_in"] == "en Martinique"


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
