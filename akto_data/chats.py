"""Who the assistant talked with and where they came from (deep-link source)."""

from __future__ import annotations

import re

from akto_data.db import session_scope
from akto_data.models import ChatProfile, utcnow

#: Deep links we publish (``t.me/<bot>?start=<payload>``), by their first word: a CFA's
#: poster (``cfa_<code>``), orientation, aids, occupations that recruit. A campaign may
#: add a suffix (``aides_salon2026``, ``cfa_972-umih``).
DEEP_LINK_PREFIXES = ("cfa", "quiz", "orientation", "aides", "metiers")
_RECOGNISED = re.compile(rf"^(?:{'|'.join(DEEP_LINK_PREFIXES)})(?:[_-][A-Za-z0-9_-]{{1,48}})?$", re.IGNORECASE)
#: More digits than a campaign code has: what a phone number or an id would have.
_MAX_DIGITS = 6


def recognised_source(payload: str | None) -> str | None:
    """``payload`` if it is one of our deep links, else ``None``.

    Anything may follow ``/start`` (a young person once typed their phone number
    there), so only a payload of a link we publish is kept as the chat's source or
    passed to Rasa; the rest is dropped, never stored.
    """
    if not payload or not _RECOGNISED.match(payload):
        return None
    if sum(char.isdigit() for char in payload) > _MAX_DIGITS:
        return None
    return payload


def touch_chat(chat_id: str, *, language: str | None = None, start_source: str | None = None) -> None:
    """Record activity of a chat; a recognised deep-link source, once given, is kept."""
    with session_scope() as session:
        profile = session.get(ChatProfile, chat_id)
        if profile is None:
            profile = ChatProfile(chat_id=chat_id)
            session.add(profile)
        profile.last_seen = utcnow()
        if language:
            profile.language = language[:16]
        source = recognised_source(start_source)
        if source:
            profile.start_source = source


def chat_start_source(chat_id: str) -> str | None:
    with session_scope() as session:
        profile = session.get(ChatProfile, chat_id)
        return profile.start_source if profile else None
