"""Tables of the CFA portal: a CFA's own settings, its login links, its training proposals."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from akto_data.models import Base, utcnow


class CfaAccount(Base):
    """What a CFA set in the portal, and whether AKTO paused it.

    The delivery settings of ``content/private/cfa_delivery.yml`` (``cat_cfa_delivery``)
    are the starting point; once a CFA saves its settings in the portal, this row wins
    (:func:`akto_data.cfa.settings.delivery_for`), so a catalogue import never undoes them.
    """

    __tablename__ = "app_cfa_account"

    cfa_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Delivery addresses (lead e-mails go to all; each one can ask for a login link). None: the file's.
    emails: Mapped[list[str] | None] = mapped_column(JSON)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret: Mapped[str | None] = mapped_column(Text)
    #: The secret before the last rotation, still sent (second signature) until ``previous_secret_until``.
    previous_webhook_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: False: the e-mail leaves the young person's phone/e-mail out; the portal shows them.
    contact_in_email: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    #: Set by AKTO staff: no new lead goes to a paused CFA, its waiting young people are offered another.
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paused_by: Mapped[str | None] = mapped_column(String(254))
    pause_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CfaLoginLink(Base):
    """One magic link sent to a CFA address: only its hash is stored; single use, expires."""

    __tablename__ = "app_cfa_login_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    cfa_id: Mapped[str] = mapped_column(String(64), index=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CfaTrainingProposal(Base):
    """Trainings a CFA says it offers, waiting for AKTO staff before they reach the catalogue."""

    __tablename__ = "app_cfa_training_proposal"

    id: Mapped[int] = mapped_column(primary_key=True)
    cfa_id: Mapped[str] = mapped_column(String(64), index=True)
    #: The whole proposed list: [{"rome": "G1603", "diploma": "CAP Cuisine", "level": 3}, …].
    trainings: Mapped[list[dict]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    #: pending | approved | rejected | replaced (a newer proposal of the same CFA took its place)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    proposed_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(254))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)
    #: The catalogue version the approval published.
    content_version: Mapped[int | None] = mapped_column(Integer)



