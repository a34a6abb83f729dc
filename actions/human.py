"""The young person asks for a human: the conversation joins the advisors' queue.

The request is recorded by :func:`akto_data.takeover.core.request_takeover` (one open
request per chat); the answer says whether an advisor of the territory is on duty,
or when one will answer. Only Telegram chats can be taken over (the bot sends the
advisor's messages there); the terminal chat of ``make run`` gets the CFA option.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from akto_data.db import session_scope
from akto_data.i18n import text as t
from akto_data.leads.notices import is_telegram_chat
from akto_data.takeover.core import ASKED, request_takeover


class ActionRequestHuman(Action):
    def name(self) -> str:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        if not is_telegram_chat(tracker.sender_id):
            dispatcher.utter_message(text=t("takeover.requested.not_here"))
            return []
        with session_scope() as session:
            outcome = request_takeover(session, tracker.sender_id, tracker.get_slot("territory"), ASKED)
        dispatcher.utter_message(text=outcome.text)
        return []
