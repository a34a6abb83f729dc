"""SQLAlchemy 2 data model.

Table names are prefixed with ``app_`` because, in the embedded default, the same
SQLite file also holds Rasa's tracker store (its ``events`` table).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A datetime read back from the database, as aware UTC: SQLite returns naive
    datetimes (every one we store is UTC), PostgreSQL aware ones."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base of all our tables."""


class ChatProfile(Base):
    """A chat the assistant talked with: when, and where it came from (deep link)."""

    __tablename__ = "app_chat_profile"

    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    start_source: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(16))


class ButtonPayload(Base):
    """Server-side side of an inline button.

    Telegram allows 64 bytes of callback data and shows it to the client, so a
    button carries only this short random id; the Rasa payload stays here. A
    payload is bound to its chat and can be used once (the keyboard is then removed).
    """

    __tablename__ = "app_button_payload"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), index=True)
    keyboard_id: Mapped[str] = mapped_column(String(16), index=True)
    title: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Feedback(Base):
    """A 👍/👎 given after an informative answer, keyed by topic (intent name)."""

    __tablename__ = "app_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(64), index=True)
    helpful: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UnansweredMessage(Base):
    """A message the assistant could not handle, for staff review.

    Holds the text (phone numbers and e-mails masked), why it is here, and the
    topic the NLU guessed with its confidence. No chat id: staff review the
    questions, not the people.
    """

    __tablename__ = "app_unanswered"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(32))  # "fallback" or "negative_feedback"
    guessed_topic: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    #: The conversation's ``territory`` slot when the message was logged (staff filter the inbox by it).
    territory: Mapped[str | None] = mapped_column(String(32), index=True)
    #: What staff made of it in the console inbox: a topic (intent) it now trains, or
    #: ``out_of_scope``; who, and when. Unhandled rows are the inbox.
    handled_as: Mapped[str | None] = mapped_column(String(64))
    handled_by: Mapped[str | None] = mapped_column(String(254))
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
