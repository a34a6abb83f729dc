"""A young person's data: what we hold about them, and erasing it everywhere.

"Everywhere" is the list of stores in :mod:`akto_data.personal_data` (chat profile,
buttons, leads with their status history and outbox, the review log, and Rasa's
tracker store, whose ``events`` table lives in our database), the same list that
retention walks, so what /mes_donnees shows, what /supprimer erases and what expires
cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from akto_data.db import get_engine, session_scope
from akto_data.i18n import text as t
from akto_data.personal_data import HeldItem as HeldItem
from akto_data.personal_data import RasaEventStore, erase_all, show_all
from akto_data.settings import Settings, load_settings


@dataclass
class HeldData:
    """What we hold about one chat, field by field (see :func:`render_held`)."""

    items: list[HeldItem] = field(default_factory=list)

    def values(self, key: str) -> list[str]:
        return [item.value for item in self.items if item.field == key]

    def render(self, settings: Settings | None = None) -> str:
        return render_held(self, settings or load_settings())


def held_data(session: Session, chat_id: str) -> HeldData:
    return HeldData(show_all(session, chat_id))


def what_we_hold(chat_id: str) -> HeldData:
    """/mes_donnees: one read of every store (the bot's unit of work)."""
    with session_scope() as session:
        return held_data(session, chat_id)


def field_label(key: str) -> str:
    """French label of a field; a field the catalogue does not know is shown by its key
    rather than hidden (the registry test keeps the catalogue complete)."""
    try:
        return t(f"privacy.field.{key}")
    except KeyError:
        return key


def render_held(held: HeldData, settings: Settings) -> str:
    """The /mes_donnees message: every item held, then how long each kind is kept."""
    if not held.items:
        return t("privacy.nothing")
    lines = []
    for item in held.items:
        template = "privacy.item.sub" if item.field.startswith("lead.") else "privacy.item"
        lines.append(t(template, label=field_label(item.field), value=item.value))
    return t("privacy.held", items="\n".join(lines), conversation_days=settings.conversation_retention_days,
             unanswered_days=settings.unanswered_retention_days, lead_months=settings.lead_retention_months)


def erase_chat(chat_id: str, tracker_url: str | None = None) -> dict[str, int]:
    """/supprimer: delete everything tied to ``chat_id`` in one transaction; rows removed per store.

    Rasa's tracker store is in our database (the launcher derives its URL from
    ``DATABASE_URL``); a ``tracker_url`` naming another database gets its events
    erased there as well.
    """
    with session_scope() as session:
        removed = erase_all(session, chat_id)
    if tracker_url and _other_database(tracker_url):
        engine = create_engine(tracker_url)
        try:
            with Session(engine) as session, session.begin():
                removed["conversation"] += RasaEventStore().erase(session, chat_id)
        finally:
            engine.dispose()
    return removed


def _other_database(url: str) -> bool:
    ours, theirs = get_engine().url, make_url(url)
    return (theirs.get_backend_name(), theirs.host, theirs.port, theirs.database) != (
        ours.get_backend_name(), ours.host, ours.port, ours.database)
