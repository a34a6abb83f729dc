"""Two-step fallback and feedback; both feed the staff review log.

Step 1: "Tu voulais dire … ?" with buttons for the one or two likeliest topics.
Step 2 (a second miss in a row, or "Non, autre chose"): rephrase, menu, or a human; a
second miss in a row also puts the conversation in the advisors' takeover queue.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.texts import event_intent, intent_payload, latest_intent, parsed_intent, response_text, user_events
from akto_data.db import session_scope
from akto_data.leads.notices import is_telegram_chat
from akto_data.review import record_feedback, record_unanswered
from akto_data.takeover.core import FALLBACK, request_takeover

#: Intents never offered as "did you mean": they are not topics.
NOT_TOPICS = {"nlu_fallback", "out_of_scope", "inform", "affirm", "deny", "stop"}
#: Below this a topic is not offered (35 topics: uniform would be about 0.03).
MIN_SUGGESTION_CONFIDENCE = 0.10


def suggestions(ranking: list[dict[str, Any]], domain: dict[str, Any], limit: int = 2) -> list[tuple[str, str]]:
    """(label, intent) of the likeliest topics that have a label in the domain."""
    found: list[tuple[str, str]] = []
    for entry in ranking:
        name = entry.get("name")
        label = response_text(domain, f"utter_topic_{name}")
        if not name or name in NOT_TOPICS or label is None or entry.get("confidence", 0) < MIN_SUGGESTION_CONFIDENCE:
            continue
        found.append((label, name))
        if len(found) == limit:
            break
    return found


def best_guess(ranking: list[dict[str, Any]]) -> tuple[str | None, float | None]:
    for entry in ranking:
        if entry.get("name") != "nlu_fallback":
            return entry.get("name"), entry.get("confidence")
    return None, None


class ActionFallback(Action):
    def name(self) -> str:
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        latest = tracker.latest_message or {}
        ranking = latest.get("intent_ranking") or []
        guess, confidence = best_guess(ranking)
        previous = user_events(tracker)[-2:-1]
        second_miss = bool(previous) and event_intent(previous[0]) == "nlu_fallback"
        with session_scope() as session:
            record_unanswered(session, latest.get("text") or "", "fallback", guess, confidence,
                              tracker.get_slot("territory"))
            if second_miss and is_telegram_chat(tracker.sender_id):
                # Two misses in a row: the conversation joins the advisors' queue (silently:
                # the options below offer a human; an advisor may step in first).
                request_takeover(session, tracker.sender_id, tracker.get_slot("territory"), FALLBACK)
        options = suggestions(ranking, domain)
        if second_miss or not options:
            dispatcher.utter_message(response="utter_fallback_options")
            return []
        buttons = [{"title": label, "payload": intent_payload(intent)} for label, intent in options]
        buttons.append({"title": response_text(domain, "utter_fallback_other_button") or "Non, autre chose",
                        "payload": intent_payload("fallback_other")})
        dispatcher.utter_message(response="utter_did_you_mean", buttons=buttons)
        return []


class ActionStoreFeedback(Action):
    def name(self) -> str:
        return "action_store_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        helpful = latest_intent(tracker) == "feedback_positive"
        question = next((e for e in reversed(user_events(tracker)) if not event_intent(e).startswith("feedback_")), None)
        intent = parsed_intent((question or {}).get("parse_data"))
        topic = intent.get("name") or "unknown"
        with session_scope() as session:
            record_feedback(session, topic, helpful)
            if not helpful:
                record_unanswered(session, (question or {}).get("text") or "", "negative_feedback", topic,
                                  intent.get("confidence"), tracker.get_slot("territory"))
        dispatcher.utter_message(response="utter_feedback_thanks" if helpful else "utter_feedback_sorry")
        return []
