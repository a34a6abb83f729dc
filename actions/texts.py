"""Reading what Rasa sends each action (domain, tracker) and writing button payloads.

Button labels that actions assemble (fallback topics) stay in the domain with the
other French texts; this is the one place that knows how to read them, how to find
an intent in the tracker, and how to spell a payload of our own buttons.
"""

from __future__ import annotations

from typing import Any

from akto_data.catalogue.answers import intent_payload

__all__ = ["intent_payload"]


def response_text(domain: dict[str, Any], name: str) -> str | None:
    variants = (domain.get("responses") or {}).get(name) or []
    return variants[0].get("text") if variants else None


def user_events(tracker: Any) -> list[dict[str, Any]]:
    """User messages of the conversation, oldest first."""
    return [e for e in tracker.events if e.get("event") == "user"]


def latest_metadata(tracker: Any) -> dict[str, Any]:
    """Metadata the front sent with the latest message (Telegram first name, username...).

    Rasa 3.6 keeps it on the user event, not in the parsed message.
    """
    for event in reversed(tracker.events or []):
        if event.get("event") == "user":
            return event.get("metadata") or {}
    return {}


def value_before_latest_message(tracker: Any, slot: str) -> Any:
    """What ``slot`` held before the latest user message set it again."""
    events = list(tracker.events or [])
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=len(events))
    value = None
    for event in events[:last_user]:
        if event.get("event") == "slot" and event.get("name") == slot:
            value = event.get("value")
    return value


def parsed_intent(parse_data: dict[str, Any] | None) -> dict[str, Any]:
    """``{"name": ..., "confidence": ...}`` of a parsed message (empty if none)."""
    return (parse_data or {}).get("intent") or {}


def latest_intent(tracker: Any) -> str:
    return parsed_intent(tracker.latest_message).get("name") or ""


def event_intent(event: dict[str, Any]) -> str:
    return parsed_intent(event.get("parse_data")).get("name") or ""


