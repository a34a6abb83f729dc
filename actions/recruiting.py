"""The territory question before the list of occupations that recruit (recruiting_form)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.pay import validate_territory_value


class ValidateRecruitingForm(FormValidationAction):
    def name(self) -> str:
        return "validate_recruiting_form"

    def validate_territory(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                           domain: dict[str, Any]) -> dict[str, Any]:
        return validate_territory_value(value, dispatcher)
