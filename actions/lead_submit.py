"""Start, submission and cancellation of a request to be contacted by a CFA.

The lead is stored only after an explicit yes to the consent question, with the
version of the consent text. Storing also queues the e-mail to the CFA (outbox):
the chat never waits on SMTP.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from akto_data.catalogue import queries
from akto_data.i18n import text as t
from akto_data.leads.form import label, lead_request
from akto_data.leads.store import DuplicateLead, TooManyLeads, create_lead

#: Answers of one request, cleared when it ends; what else the young person told us
#: (name, age, territory, town, occupation, diploma, contact...) is kept and offered again.
PER_REQUEST = ("lead_cfa", "lead_cfa_territory", "lead_reasons", "lead_reasons_picked", "lead_message",
               "lead_consent", "lead_change", "lead_editing")
#: Answers the form reuses from earlier in the conversation, in the order of the recap.
KNOWN = ("lead_first_name", "age", "territory", "lead_town", "occupation", "diploma_level")


def consent_version() -> str:
    """Version of the consent text, kept beside the text in the French catalogue."""
    return t("lead.consent.version")


def clear_request() -> list[dict[str, Any]]:
    return [SlotSet(name, None) for name in PER_REQUEST]


class ActionLeadIntro(Action):
    """Opens the form and says which answers are already known (they can be changed in the recap)."""

    def name(self) -> str:
        return "action_lead_intro"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        known = []
        for slot in KNOWN:
            value = tracker.get_slot(slot)
            if not value:
                continue
            if slot == "territory":
                place = queries.territory(value)
                value = place.name if place else None
            elif slot == "occupation":
                job = queries.occupation(value)
                value = job.name if job else None
            elif slot == "age":
                value = t("lead.known_age", age=value)
            elif slot == "diploma_level":
                value = label("diploma", value)
            if value:
                known.append(str(value))
        dispatcher.utter_message(text=t("lead.intro"))
        if known:
            dispatcher.utter_message(text=t("lead.intro_known", known=", ".join(known)))
        return clear_request()


class ActionSubmitLead(Action):
    def name(self) -> str:
        return "action_submit_lead"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        if tracker.get_slot("lead_consent") != "yes":
            dispatcher.utter_message(response="utter_lead_cancelled")
            return clear_request()
        data, match = lead_request(tracker.slots, tracker.sender_id)
        name = match.name if match else data["cfa_id"]
        try:
            create_lead(data, consent_version(), match.level if match else None)
        except DuplicateLead:
            dispatcher.utter_message(text=t("lead.duplicate", cfa=name))
        except TooManyLeads:
            dispatcher.utter_message(text=t("lead.too_many"))
        else:
            dispatcher.utter_message(text=t("lead.sent", cfa=name))
        return clear_request()


class ActionLeadCancel(Action):
    def name(self) -> str:
        return "action_lead_cancel"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_lead_cancelled")
        return [*clear_request(), SlotSet("requested_slot", None)]
