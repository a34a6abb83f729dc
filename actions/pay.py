"""Apprentice pay: the figure at once with what is known (no question first), buttons to refine."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from akto_data.catalogue.cache import cached_catalogue
from akto_data.catalogue.pay_answer import pay_reply
from akto_data.db import session_scope
from akto_data.i18n import text as t
from akto_data.leads.contact import town_anywhere

NUMBER = re.compile(r"(?<!\d)(\d{1,2})(?!\d)")
#: Ages an apprentice can have (15 after the 3e; no upper limit in some cases, 35 keeps typos out).
MIN_AGE, MAX_AGE = 15, 35
YEAR = re.compile(r"\b([123])\s*(?:re|er|ère|ere|e|è|eme|ème|nd|nde)?\b", re.IGNORECASE)


def parse_age(value: Any) -> int | None:
    if value is None:
        return None
    match = NUMBER.search(str(value))
    return int(match.group(1)) if match else None


def parse_contract_year(value: Any) -> str | None:
    match = YEAR.search(str(value or ""))
    return match.group(1) if match else None


def validate_territory_value(value: Any, dispatcher: CollectingDispatcher) -> dict[str, Any]:
    """A territory id, or a commune typed instead (it says the territory, and is kept for the lead form)."""
    if isinstance(value, str):
        with session_scope() as session:
            catalogue = cached_catalogue(session)
            if catalogue.territory(value) is not None:
                return {"territory": value}
            deduced = town_anywhere(value, [(p.id, p.towns) for p in catalogue.territories() if not p.destination_only])
            home = catalogue.territory(deduced[0]) if deduced else None
            if deduced is not None and home is not None:
                dispatcher.utter_message(text=t("lead.town_gives_territory", town=deduced[1], territory_in=home.in_the))
                return {"territory": deduced[0], "lead_town": deduced[1]}
    dispatcher.utter_message(response="utter_territory_invalid")
    return {"territory": None}


class ActionAnswerPay(Action):
    """The pay figure at once, with what is known; buttons offer only what would change it."""

    def name(self) -> str:
        return "action_answer_pay"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        age = parse_age(tracker.get_slot("age"))
        if age is not None and not MIN_AGE <= age <= MAX_AGE:
            age = None  # not an apprentice's age (a mis-read number): show the table, not a wrong figure
        band = parse_age(tracker.get_slot("pay_age_band"))
        year = parse_contract_year(tracker.get_slot("contract_year"))
        with session_scope() as session:
            catalogue = cached_catalogue(session)
            place = catalogue.territory(tracker.get_slot("territory") or "")
            reply = pay_reply(catalogue.document("apprentice_pay"), age=age, band_min=band,
                              contract_year=int(year) if year else None,
                              territory=(place.id, place.in_the) if place else None)
        dispatcher.utter_message(text=reply.text, buttons=reply.buttons)
        return []
