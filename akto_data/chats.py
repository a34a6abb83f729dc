"""Who the assistant talked with and where they came from (deep-link source)."""

from __future__ import annotations

from akto_data.db import session_scope
from akto_data.models import ChatProfile, utcnow


def touch_chat(chat_id: str, *, language: str | None = None, start_source: str | None = None) -> None:
    """Record activity of a chat; a deep-link source, once given, is kept."""
    with session_scope() as session:
        profile = session.get(ChatProfile, chat_id)
        if profile is None:
            profile = ChatProfile(chat_id=chat_id)
            session.add(profile)
        profile.last_seen = utcnow()
        if language:
            profile.language = language[:16]
        if start_source:
            profile.start_source = start_source[:64]


def chat_start_source(chat_id: str) -> str | None:
    with session_scope() as session:
        profile = session.get(ChatProfile, chat_id)
        return profile.start_source if profile else None
