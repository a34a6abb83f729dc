"""Reading what Rasa sends each action (domain, tracker) and writing button payloads.

Button labels that actions assemble (fallback topics) stay in the domain with the
other French texts; this is the one place that knows how to read them, how to find
an intent in the tracker, and how to spell a payload of our own buttons.
"""

from __future__ import annotations

import json
from typing import Any


def response_text(domain: dict[str, Any], name: str) -> str | None:
    variants = (domain.get("responses") or {}).get(name) or []
    return variants[0].get("text") if variants else None


def user_events(tracker: Any) -> list[dict[str, Any]]:
    """User messages of the conversation, oldest first."""
    return [e for e in tracker.events if e.get("event") == "user"]


def parsed_intent(parse_data: dict[str, Any] | None) -> dict[str, Any]:
    """``{"name": ..., "confidence": ...}`` of a parsed message (empty if none)."""
    return (parse_data or {}).get("intent") or {}


def latest_intent(tracker: Any) -> str:
    return parsed_intent(tracker.latest_message).get("name") or ""


def event_intent(event: dict[str, Any]) -> str:
    return parsed_intent(event.get("parse_data")).get("name") or ""


def intent_payload(intent: str, **entities: str) -> str:
    """Payload of one of our buttons: ``/intent{"entity":"value"}`` (compact JSON)."""
    return f"/{intent}" + (json.dumps(entities, separators=(",", ":")) if entities else "")
