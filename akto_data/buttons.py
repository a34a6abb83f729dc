"""Inline-button payloads kept server-side (see :class:`akto_data.models.ButtonPayload`)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, update

from akto_data.db import session_scope
from akto_data.models import ButtonPayload, utcnow

#: Buttons older than this are forgotten; pressing one asks the user to start again.
BUTTON_TTL = timedelta(days=30)


@dataclass(frozen=True)
class StoredButton:
    """What a pressed button stands for."""

    title: str
    payload: str


def register_buttons(chat_id: str, buttons: list[tuple[str, str]]) -> list[str]:
    """Store ``(title, payload)`` pairs for ``chat_id``; return one short id per button."""
    ids = [secrets.token_urlsafe(8) for _ in buttons]
    keyboard_id = secrets.token_urlsafe(8)
    with session_scope() as session:
        session.add_all(
            ButtonPayload(id=bid, chat_id=chat_id, keyboard_id=keyboard_id, title=title, payload=payload)
            for bid, (title, payload) in zip(ids, buttons)
        )
    return ids


def consume_button(chat_id: str, button_id: str) -> StoredButton | None:
    """Resolve a pressed button once.

    Returns ``None`` when the id is unknown, belongs to another chat, expired, or
    a button of the same keyboard was already used: a keyboard answers once.
    """
    with session_scope() as session:
        row = session.get(ButtonPayload, button_id)
        if row is None or row.chat_id != chat_id or row.used_at is not None:
            return None
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=utcnow().tzinfo)
        if utcnow() - created > BUTTON_TTL:
            return None
        # Compare-and-set: of two presses of one keyboard handled at once (two bot processes), one counts.
        taken = session.execute(
            update(ButtonPayload).where(ButtonPayload.keyboard_id == row.keyboard_id, ButtonPayload.used_at.is_(None))
            .values(used_at=utcnow())
        )
        if not getattr(taken, "rowcount", 0):
            return None
        return StoredButton(title=row.title, payload=row.payload)


def purge_expired_buttons() -> int:
    """Delete buttons past their TTL; returns how many."""
    with session_scope() as session:
        result = session.execute(delete(ButtonPayload).where(ButtonPayload.created_at < utcnow() - BUTTON_TTL))
        return int(getattr(result, "rowcount", 0) or 0)  # a DML result (CursorResult) has rowcount


def forget_chat_buttons(chat_id: str) -> None:
    """Erase a chat's buttons (data erasure)."""
    with session_scope() as session:
        session.execute(delete(ButtonPayload).where(ButtonPayload.chat_id == chat_id))


