"""A young person's data: what we hold about them, and erasing it everywhere.

"Everywhere" means our tables (chat profile, button payloads, leads with their
status history and outbox) and Rasa's tracker store (the ``events`` table of the
database Rasa uses, same file as ours by default). Feedback and the review log hold
no chat id, so they are not personal data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import create_engine, delete, inspect, select, text

from akto_data.db import ensure_schema, session_scope
from akto_data.leads.models import Lead
from akto_data.models import ButtonPayload, ChatProfile


@dataclass
class HeldData:
    first_seen: str | None = None
    start_source: str | None = None
    leads: list[str] = field(default_factory=list)  # "CFA id — training — date — status"


def what_we_hold(chat_id: str) -> HeldData:
    ensure_schema()
    with session_scope() as session:
        profile = session.get(ChatProfile, chat_id)
        leads = session.scalars(select(Lead).where(Lead.chat_id == chat_id).order_by(Lead.created_at))
        return HeldData(
            first_seen=f"{profile.first_seen:%d/%m/%Y}" if profile else None,
            start_source=profile.start_source if profile else None,
            leads=[f"{lead.cfa_id} — {lead.training} — {lead.created_at:%d/%m/%Y} — {lead.status}" for lead in leads],
        )


def erase_chat(chat_id: str, tracker_url: str | None) -> dict[str, int]:
    """Delete everything tied to ``chat_id``; returns how many rows went from where."""
    ensure_schema()
    removed: dict[str, int] = {}
    with session_scope() as session:
        for name, statement in (
            ("leads", delete(Lead).where(Lead.chat_id == chat_id)),
            ("buttons", delete(ButtonPayload).where(ButtonPayload.chat_id == chat_id)),
            ("profile", delete(ChatProfile).where(ChatProfile.chat_id == chat_id)),
        ):
            removed[name] = session.execute(statement).rowcount or 0
    if tracker_url:
        engine = create_engine(tracker_url)
        try:
            if "events" in inspect(engine).get_table_names():
                with engine.begin() as connection:
                    result = connection.execute(text("DELETE FROM events WHERE sender_id = :id"), {"id": chat_id})
                    removed["conversation"] = result.rowcount or 0
        finally:
            engine.dispose()
    return removed
