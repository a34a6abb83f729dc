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
    #: When the CFA got its one reminder (lead not opened after 2 working days).
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    outbox: Mapped[list[OutboxMessage]] = relationship(back_populates="lead", cascade="all, delete-orphan")


class LeadStatusEvent(Base):
    """History of a lead's status (new, sent, read, contacted, enrolled, not_reachable)."""

    __tablename__ = "app_lead_status"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("app_lead.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    by: Mapped[str] = mapped_column(String(32))  # system, cfa, user


class OutboxMessage(Base):
    """One delivery to do (e-mail or webhook) and its attempts, persisted before any I/O."""

    __tablename__ = "app_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("app_lead.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # email | webhook | telegram
    #: What to send: the lead itself, the CFA reminder, or a status notice to the young person.
    kind: Mapped[str] = mapped_column(String(16), default="lead", server_default="lead")  # lead | reminder | notice
    #: For notices: the new status.
    payload: Mapped[dict | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    lead: Mapped[Lead] = relationship(back_populates="outbox")
