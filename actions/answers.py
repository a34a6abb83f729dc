"""Answers read from the catalogue: FAQ topics and aids, always with their source."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.texts import latest_intent
from akto_data.catalogue.answers import aid_text, faq_text
from akto_data.catalogue.queries import Catalogue
from akto_data.db import session_scope

__all__ = ["ActionAnswerAid", "ActionAnswerFaq", "aid_text"]


class ActionAnswerFaq(Action):
    """FAQ topics (age limits, contracts, POEC, AKTO…): text and source from content/faq.yml."""

    def name(self) -> str:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        with session_scope() as session:
            text = faq_text(Catalogue(session), latest_intent(tracker) or "")
        if text is None:
            dispatcher.utter_message(response="utter_default")
            return []
        dispatcher.utter_message(text=text)
        return []


class ActionAnswerAid(Action):
    """Questions about one kind of aid ("aide permis ?"): every aid of that topic, directly."""

    def name(self) -> str:
        return "action_answer_aid"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        with session_scope() as session:
            catalogue = Catalogue(session)
            found = catalogue.aids_for_topic(latest_intent(tracker) or "")
            if not found:
                dispatcher.utter_message(response="utter_ask_aids")
                return []
            for aid in found:
                dispatcher.utter_message(text=aid_text(catalogue, aid.id))
        return []
