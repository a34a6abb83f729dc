"""Answers read from the catalogue: FAQ topics and aids, always with their source."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.pay import parse_age
from actions.texts import latest_intent
from akto_data.catalogue.answers import aid_text, faq_text
from akto_data.catalogue.cache import cached_catalogue
from akto_data.catalogue.eligibility import instead_of, min_age
from akto_data.catalogue.queries import Catalogue
from akto_data.db import session_scope
from akto_data.i18n import text as t

__all__ = ["ActionAnswerAid", "ActionAnswerFaq", "aid_text"]


class ActionAnswerFaq(Action):
    """FAQ topics (age limits, contracts, POEC, AKTO…): text and source from content/faq.yml."""

    def name(self) -> str:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        with session_scope() as session:
            text = faq_text(cached_catalogue(session), latest_intent(tracker) or "")
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
            catalogue = cached_catalogue(session)
            found = catalogue.aids_for_topic(latest_intent(tracker) or "")
            if not found:
                dispatcher.utter_message(response="utter_ask_aids")
                return []
            age = parse_age(tracker.get_slot("age"))
            territory = tracker.get_slot("territory")
            for aid in found:
                low = min_age(aid.eligibility or {}, None)
                if age is not None and low is not None and age < low:
                    # Issue 13: the situation stated gets its answer, "not yet" included.
                    dispatcher.utter_message(text=not_yet_text(catalogue, aid, low, age, territory))
                dispatcher.utter_message(text=aid_text(catalogue, aid.id))
        return []


def not_yet_text(catalogue: Catalogue, aid: Any, low: int, age: int, territory: str | None) -> str:
    """"Not yet, from 18", and what the young person can already get for the same need."""
    lines = [t("aid.not_yet", name=aid.name, min_age=low, age=age)]
    instead = instead_of(catalogue.aids(), aid, age, territory)
    if instead:
        lines.append(t("aid.instead", age=age) + "\n" + "\n".join(f"• {other.name}" for other in instead))
    lines.append(t("aid.instead_none"))
    return "\n\n".join(lines)
