"""Reading response texts from the domain Rasa sends with each action call.

Button labels that actions assemble (fallback topics) stay in the domain with the
other French texts; this is the one place that knows how to read them.
"""

from __future__ import annotations

from typing import Any


def response_text(domain: dict[str, Any], name: str) -> str | None:
    variants = (domain.get("responses") or {}).get(name) or []
    return variants[0].get("text") if variants else None


def user_events(tracker: Any) -> list[dict[str, Any]]:
    """User messages of the conversation, oldest first."""
    return [e for e in tracker.events if e.get("event") == "user"]
