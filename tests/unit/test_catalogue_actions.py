"""Actions that answer from the catalogue."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.answers import ActionAnswerAid, ActionAnswerFaq
from actions.occupations import ActionOccupationCard, ActionRecruitingJobs


def tracker(intent, slots=None, entities=None):
    latest = {"intent": {"name": intent, "confidence": 1.0}, "entities": entities or [], "text": "x"}
    return Tracker("c", slots or {}, latest, [], False, None, {}, "")


async def run(action, trk):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, trk, {})
    return dispatcher.messages, events


async def test_recruiting_list_is_per_territory_with_buttons_to_cards(catalogue):
    messages, _ = await run(ActionRecruitingJobs(), tracker("ask_recruiting_jobs", {"territory": "mayotte"}))
    buttons = messages[0]["buttons"]
    assert "à Mayotte" in messages[0]["text"] and "Source : " in messages[0]["text"] and "vérifié le" in messages[0]["text"]
    assert {b["title"] for b in buttons} >= {"Aide-soignant", "Maçon"}
    assert all(b["payload"].startswith('/ask_occupation{"occupation":"') for b in buttons)


async def test_occupation_card_shows_cfas_near_me_and_contact_button(catalogue):
    entities = [{"entity": "occupation", "value": "G1602"}]
    messages, events = await run(ActionOccupationCard(), tracker("ask_occupation", {"territory": "martinique"}, entities))
    text = messages[0]["text"]
    assert "Cuisinier" in text and "CFA de l'UMIH" in text and "niveau 3" in text
    assert messages[0]["buttons"][0]["payload"] == '/request_cfa_contact{"occupation":"G1602"}'
    assert events == [{"event": "slot", "timestamp": None, "name": "occupation", "value": "G1602"}]


async def test_occupation_question_without_an_occupation_asks_which(catalogue):
    messages, _ = await run(ActionOccupationCard(), tracker("ask_occupation"))
    assert messages[0]["response"] == "utter_ask_occupation"


async def test_faq_answer_comes_from_the_catalogue_with_its_source(catalogue):
    messages, _ = await run(ActionAnswerFaq(), tracker("ask_apprenticeship_age"))
    assert "16 à 29 ans" in messages[0]["text"] and "Source : Code du travail" in messages[0]["text"]


async def test_aid_question_answers_directly(catalogue):
    messages, _ = await run(ActionAnswerAid(), tracker("ask_driving_licence_aid"))
    assert len(messages) == 1 and "500\u00a0€" in messages[0]["text"] and "vérifié le" in messages[0]["text"]
