"""Apprentice pay: ask age, contract year and territory (pay_form), then answer."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.sourcing import source_lines
from akto_data.catalogue.queries import Catalogue
from akto_data.db import session_scope
from akto_data.i18n import money
from akto_data.i18n import text as t

NUMBER = re.compile(r"(?<!\d)(\d{1,2})(?!\d)")
YEAR = re.compile(r"\b([123])\s*(?:re|er|ère|ere|e|è|eme|ème|nd|nde)?\b", re.IGNORECASE)


def parse_age(value: Any) -> int | None:
    if value is None:
        return None
    match = NUMBER.search(str(value))
    return int(match.group(1)) if match else None


def parse_contract_year(value: Any) -> str | None:
    match = YEAR.search(str(value or ""))
    return match.group(1) if match else None


class ValidatePayForm(FormValidationAction):
    def name(self) -> str:
        return "validate_pay_form"

    def validate_age(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                     domain: dict[str, Any]) -> dict[str, Any]:
        age = parse_age(value)
        if age is None:
            dispatcher.utter_message(response="utter_age_invalid")
            return {"age": None}
        if not 15 <= age <= 35:
            dispatcher.utter_message(response="utter_age_out_of_range")
            return {"age": None}
        return {"age": str(age)}

    def validate_contract_year(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: dict[str, Any]) -> dict[str, Any]:
        year = parse_contract_year(value)
        if year is None:
            dispatcher.utter_message(response="utter_contract_year_invalid")
        return {"contract_year": year}

    def validate_territory(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                           domain: dict[str, Any]) -> dict[str, Any]:
        return validate_territory_value(value, dispatcher)


def validate_territory_value(value: Any, dispatcher: CollectingDispatcher) -> dict[str, Any]:
    if isinstance(value, str):
        with session_scope() as session:
            if Catalogue(session).territory(value) is not None:
                return {"territory": value}
    dispatcher.utter_message(response="utter_territory_invalid")
    return {"territory": None}


class ActionAnswerPay(Action):
    def name(self) -> str:
        return "action_answer_pay"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        age = parse_age(tracker.get_slot("age"))
        year = parse_contract_year(tracker.get_slot("contract_year"))
        with session_scope() as session:
            catalogue = Catalogue(session)
            place = catalogue.territory(tracker.get_slot("territory") or "")
            if age is None or year is None or place is None:
                dispatcher.utter_message(response="utter_default")
                return []
            answer = catalogue.apprentice_pay(age, int(year), place.id)
        values = {
            "age": age, "year_label": t(f"pay.year_label.{year}"), "percent": answer.percent,
            "territory_in": place.in_the, "sources": source_lines(answer.grid, answer.smic_source),
        }
        if answer.monthly_gross is None:
            dispatcher.utter_message(response="utter_pay_result_no_smic", **values)
        else:
            dispatcher.utter_message(response="utter_pay_result", amount=money(answer.monthly_gross), **values)
        return []
