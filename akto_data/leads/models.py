"""Lead, its status history and its outbox messages (SQLAlchemy 2)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from akto_data.models import Base, utcnow


class Lead(Base):
    __tablename__ = "app_lead"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable key of this lead (also the e-mail Message-ID): lets receivers drop duplicates.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    chat_id: Mapped[str | None] = mapped_column(String(64), index=True)
    cfa_id: Mapped[str] = mapped_column(String(64), index=True)
    rome: Mapped[str] = mapped_column(String(5))
    training: Mapped[str] = mapped_column(Text)
    first_name: Mapped[str | None] = mapped_column(String(64))
    age: Mapped[int | None] = mapped_column(Integer)
    territory: Mapped[str] = mapped_column(String(32))
    town: Mapped[str | None] = mapped_column(String(128))
    diploma_level: Mapped[int | None] = mapped_column(Integer)
    start_when: Mapped[str | None] = mapped_column(String(64))
    has_employer: Mapped[bool | None] = mapped_column(Boolean)
    mobility: Mapped[str | None] = mapped_column(String(32))
    contact_channel: Mapped[str | None] = mapped_column(String(16))
    contact_value: Mapped[str | None] = mapped_column(String(255))
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    message: Mapped[str | None] = mapped_column(Text)
    minor: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_version: Mapped[str] = mapped_column(String(32))
    consented_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    score: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(32), default="new")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    anonymised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: When the CFA got its last reminder (no answer after 2, then 5 working days).
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: How many reminders the CFA got (0, 1 after 2 working days, 2 after 5).
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: First time the CFA answered (a status other than "read", or a message): the console's response time.
    first_answer_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Why the CFA refused (a code of ``REFUSAL_REASONS``) or why the lead was closed.
    status_reason: Mapped[str | None] = mapped_column(String(32))
    #: Day-7 question to the young person ("Le CFA t'a contacté ?"): when asked, and the answer.
    followup_asked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    followup_answer: Mapped[str | None] = mapped_column(String(16))  # yes | not_yet | stop
    #: When the young person was offered another CFA (no answer after 10 working days, or CFA paused).
    reroute_offered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The lead this one replaces (sent to another CFA with a new consent naming it).
    rerouted_from_id: Mapped[int | None] = mapped_column(ForeignKey("app_lead.id", ondelete="SET NULL"))
    #: The young person stopped the CFA's messages (/annuler or the button).
    relay_stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The young person pressed "Répondre": their next message goes to the CFA (until it is sent or cancelled).
    reply_pending_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    outbox: Mapped[list[OutboxMessage]] = relationship(back_populates="lead", cascade="all, delete-orphan")


class LeadStatusEvent(Base):
    """History of a lead's status (see ``akto_data.leads.lifecycle.RANK``) and who set it."""

    __tablename__ = "app_lead_status"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("app_lead.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    by: Mapped[str] = mapped_column(String(32))  # system, cfa, user (the young person), staff
    #: The reason given with it (refusal reason code), if any.
    reason: Mapped[str | None] = mapped_column(String(32))


class OutboxMessage(Base):
    """One delivery to do (e-mail or webhook) and its attempts, persisted before any I/O."""

    __tablename__ = "app_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The lead it is about; None for a message about a whole CFA (the weekly digest).
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("app_lead.id", ondelete="CASCADE"), index=True)
    #: The CFA it goes to, for messages without a lead (the digest).
    cfa_id: Mapped[str | None] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # email | webhook | telegram
    #: What to send. To the CFA: lead, reminder, nudge (the young person is still waiting), withdrawn,
    #: rerouted, reply (the young person answered a message), digest, settings. To the young person (telegram):
    #: notice (a status), followup (day-7 question), reroute (offer of another CFA).
    kind: Mapped[str] = mapped_column(String(16), default="lead", server_default="lead")
    #: One key per time-based step ("reminder:2:<lead>", "digest:<cfa>:2026-W49"…): unique, so a
    #: restarted or second worker can never queue the same step twice.
    dedup_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    #: For notices: the new status.
    payload: Mapped[dict | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    lead: Mapped[Lead | None] = relationship(back_populates="outbox")


class LeadMessage(Base):
    """A short message between the CFA (portal) and the young person (Telegram), relayed by the bot.

    ``direction`` ``cfa``: written in the portal, sent by the bot (state pending → sending →
    sent | failed, with the outbox's back-off and give-up rules). ``young``: the young
    person's reply, received by the bot (state ``received``), shown in the portal.
    """

    __tablename__ = "app_lead_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("app_lead.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(8))  # cfa | young
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
