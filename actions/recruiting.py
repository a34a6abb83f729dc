"""Occupations that recruit in the user's territory (recruiting_form asks it if unknown)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.pay import validate_territory_value


class ValidateRecruitingForm(FormValidationAction):
    def name(self) -> str:
        return "validate_recruiting_form"

    def validate_territory(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                           domain: dict[str, Any]) -> dict[str, Any]:
        return validate_territory_value(value, dispatcher)


class ActionRecruitingJobs(Action):
    def name(self) -> str:
        return "action_recruiting_jobs"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        dispatcher.utter_message(response=f"utter_recruiting_{tracker.get_slot('territory')}")
        return []
