"""Occupations: the list that recruits in the user's territory, and an occupation card."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from akto_data.catalogue.answers import intent_payload, occupation_card, source_lines
from akto_data.catalogue.cache import cached_catalogue
from akto_data.catalogue.queries import Sourced
from akto_data.db import session_scope
from akto_data.i18n import text as t

__all__ = ["ActionOccupationCard", "ActionRecruitingJobs", "occupation_card"]

#: Buttons shown at most in the list (Telegram keyboards stay readable on a phone).
MAX_LISTED = 8


class ActionRecruitingJobs(Action):
    """Occupations that recruit in the territory, as buttons leading to their card."""

    def name(self) -> str:
        return "action_recruiting_jobs"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        with session_scope() as session:
            catalogue = cached_catalogue(session)
            place = catalogue.territory(tracker.get_slot("territory") or "")
            if place is None or place.destination_only:
                dispatcher.utter_message(response="utter_recruiting_hexagone")
                return []
            listed = catalogue.recruiting(place.id)
            verified_on, review_on = catalogue.recruitment_checked()
        if not listed:
            dispatcher.utter_message(text=t("recruiting.none", territory_in=place.in_the))
            return []
        shown = listed[:MAX_LISTED]
        sources = " ; ".join(dict.fromkeys(f"{claim.source} ({claim.year})" for _, claim in shown))
        buttons = [{"title": job.name, "payload": intent_payload("ask_occupation", occupation=job.rome)} for job, _ in shown]
        dispatcher.utter_message(
            # The source line right under the sentence, no empty line: with buttons below, a blank line
            # made the source look like a separate, orphan message on a phone.
            text=t("recruiting.list", territory_in=place.in_the) + "\n"
            + source_lines(Sourced(sources, verified_on, review_on)),
            buttons=buttons,
        )
        return []


class ActionOccupationCard(Action):
    def name(self) -> str:
        return "action_occupation_card"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        rome = next(tracker.get_latest_entity_values("occupation"), None)
        with session_scope() as session:
            card = occupation_card(cached_catalogue(session), rome, tracker.get_slot("territory")) if rome else None
        if card is None:
            dispatcher.utter_message(response="utter_ask_occupation")
            return []
        text, buttons = card
        dispatcher.utter_message(text=text, buttons=buttons)
        return [SlotSet("occupation", rome)]
