"""``/start``, possibly with a deep-link payload (``t.me/<bot>?start=<payload>``).

Campaign links bring young people straight into a flow: a CFA's poster
(``cfa_<code>``) into the CFA contact, a quiz link into orientation, and so on.
The bot already recorded the source with the chat (only a link we publish, see
:func:`akto_data.chats.recognised_source`); here we only route.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from akto_data.chats import recognised_source

#: Deep-link prefix -> response that opens the matching flow (after the greeting).
#: Every prefix we publish (``akto_data.chats.DEEP_LINK_PREFIXES``) has one (a test checks).
DEEP_LINK_FLOWS: dict[str, str] = {
    "cfa": "utter_start_cfa_contact",
    "quiz": "utter_start_orientation",
    "orientation": "utter_start_orientation",
    "aides": "utter_ask_aids",
    "metiers": "utter_ask_recruiting_jobs",
}


def flow_for(source: str | None) -> str:
    """The response to show after the greeting for a deep-link ``source``."""
    source = recognised_source(source)
    if not source:
        return "utter_main_menu"
    prefix = source.lower().split("_", 1)[0].split("-", 1)[0]
    return DEEP_LINK_FLOWS.get(prefix, "utter_main_menu")


class ActionHandleStart(Action):
    def name(self) -> str:
        return "action_handle_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        source = next(tracker.get_latest_entity_values("start_source"), None)
        dispatcher.utter_message(response="utter_greet")
        dispatcher.utter_message(response=flow_for(source))
        return []
