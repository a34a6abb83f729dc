"""Catalogue tables (SQLAlchemy 2). Filled only by :mod:`akto_data.catalogue.importer`.

Nested, rarely-queried parts (eligibility rules, amount items, quiz) are JSON
columns; what the assistant filters on (territory, ROME code, topic, dates) are
real columns.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from akto_data.models import Base


class SourcedMixin:
    """Where a fact comes from and when it was checked; past ``review_on`` it shows "à vérifier"."""

    source: Mapped[str] = mapped_column(Text)
    verified_on: Mapped[date] = mapped_column(Date)
    review_on: Mapped[date] = mapped_column(Date)
    to_verify: Mapped[bool] = mapped_column(Boolean, default=False)


class CatTerritory(Base):
    __tablename__ = "cat_territory"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    in_the: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16))
    timezone: Mapped[str] = mapped_column(String(64))
    destination_only: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Communes as staff wrote them; "Fort-de-France|fdf" adds other spellings.
    towns: Mapped[list] = mapped_column(JSON, default=list)


class CatOccupation(Base):
    __tablename__ = "cat_occupation"
    rome: Mapped[str] = mapped_column(String(5), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    what_you_do: Mapped[str] = mapped_column(Text)
    where: Mapped[str] = mapped_column(Text)
    qualities: Mapped[list] = mapped_column(JSON)
    interests: Mapped[list] = mapped_column(JSON)
    diplomas: Mapped[list] = mapped_column(JSON)


class CatRecruitment(Base):
    """Whether an occupation recruits in a territory, with the source of the claim."""

    __tablename__ = "cat_recruitment"
    rome: Mapped[str] = mapped_column(ForeignKey("cat_occupation.rome", ondelete="CASCADE"), primary_key=True)
    territory: Mapped[str] = mapped_column(String(32), primary_key=True)
    recruits: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(Text)
    year: Mapped[int] = mapped_column(Integer)
    to_verify: Mapped[bool] = mapped_column(Boolean, default=False)


class CatAid(SourcedMixin, Base):
    __tablename__ = "cat_aid"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    topic: Mapped[str] = mapped_column(String(64), index=True)
    summary: Mapped[str] = mapped_column(Text)
    how_to_apply: Mapped[str] = mapped_column(Text)
    who_to_ask: Mapped[str] = mapped_column(String(32))
    eligibility: Mapped[dict] = mapped_column(JSON)
    cumulates_with: Mapped[list] = mapped_column(JSON)


class CatAidPeriod(Base):
    """Amounts of an aid in force from ``start`` to ``end`` (``None``: still in force)."""

    __tablename__ = "cat_aid_period"
    aid_id: Mapped[str] = mapped_column(ForeignKey("cat_aid.id", ondelete="CASCADE"), primary_key=True)
    start: Mapped[date] = mapped_column(Date, primary_key=True)
    end: Mapped[date | None] = mapped_column(Date)
    items: Mapped[list] = mapped_column(JSON)


class CatCfa(SourcedMixin, Base):
    __tablename__ = "cat_cfa"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    town: Mapped[str] = mapped_column(String(128))
    territory: Mapped[str] = mapped_column(String(32), index=True)


class CatCfaTraining(Base):
    __tablename__ = "cat_cfa_training"
    cfa_id: Mapped[str] = mapped_column(ForeignKey("cat_cfa.id", ondelete="CASCADE"), primary_key=True)
    rome: Mapped[str] = mapped_column(String(5), primary_key=True)
    diploma: Mapped[str] = mapped_column(String(255), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)


class CatCfaDelivery(Base):
    """Where a CFA's leads go. Private: from content/private/, never shown to users."""

    __tablename__ = "cat_cfa_delivery"
    cfa_id: Mapped[str] = mapped_column(ForeignKey("cat_cfa.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[str] = mapped_column(String(255))
    webhook_url: Mapped[str | None] = mapped_column(Text)
    #: Shared secret of the HMAC-SHA256 signature of webhook calls.
    webhook_secret: Mapped[str | None] = mapped_column(Text)


class CatFaq(SourcedMixin, Base):
    __tablename__ = "cat_faq"
    topic: Mapped[str] = mapped_column(String(64), primary_key=True)
    answer: Mapped[str] = mapped_column(Text)


class CatDocument(Base):
    """Whole documents used as a block: the pay rules, the quiz."""

    __tablename__ = "cat_document"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict] = mapped_column(JSON)
