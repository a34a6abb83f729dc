"""Tables of the live takeover: requests for a human, the messages exchanged, advisors on duty."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from akto_data.models import Base, utcnow


class TakeoverRequest(Base):
    """A conversation waiting for, or in the hands of, an AKTO advisor.

    ``state``: ``waiting`` (in the queue; the assistant still answers), ``active`` (an
    advisor answers, the assistant is paused for the chat), ``closed`` (handed back,
    cancelled by the young person, or silent for too long: ``closed_by`` says which).
    """

    __tablename__ = "app_takeover"

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), index=True)
    #: Territory id from the conversation (``None``: unknown, shown to every advisor).
    territory: Mapped[str | None] = mapped_column(String(32), index=True)
    #: ``asked`` (the young person asked for a human) or ``fallback`` (two misses in a row).
    reason: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True, default="waiting")
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    advisor_id: Mapped[int | None] = mapped_column(ForeignKey("app_staff_account.id", ondelete="SET NULL"))
    advisor_name: Mapped[str | None] = mapped_column(String(120))
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: ``advisor`` (handed back), ``young`` (/annuler), ``silence``, ``dismissed`` (closed unanswered).
    closed_by: Mapped[str | None] = mapped_column(String(16))
    #: Last message either way (or the takeover itself): silence is counted from here.
    last_activity_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)

    messages: Mapped[list[TakeoverMessage]] = relationship(back_populates="request", cascade="all, delete-orphan",
                                                           order_by="TakeoverMessage.id")


class TakeoverMessage(Base):
    """One message of a takeover: the young person's (kept for the advisor, never sent to
    Rasa), the advisor's, or the assistant's notice (both sent to Telegram by the bot)."""

    __tablename__ = "app_takeover_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("app_takeover.id", ondelete="CASCADE"), index=True)
    chat_id: Mapped[str] = mapped_column(String(64), index=True)
    #: ``young``, ``advisor`` or ``system`` (a notice: advisor here, assistant back...).
    sender: Mapped[str] = mapped_column(String(16))
    advisor_id: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: Delivery to Telegram (advisor and system messages): pending, sending (claimed by a
    #: bot, lease until ``next_attempt_at``), sent, failed. ``None`` for the young person's.
    delivery: Mapped[str | None] = mapped_column(String(16), index=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)

    request: Mapped[TakeoverRequest] = relationship(back_populates="messages")


class AdvisorDuty(Base):
    """Whether an advisor is on duty: they said so in the console and their queue page is open."""

    __tablename__ = "app_advisor_duty"

    account_id: Mapped[int] = mapped_column(ForeignKey("app_staff_account.id", ondelete="CASCADE"),
                                            primary_key=True)
    on_duty: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Last poll of the queue page (presence).
    seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
