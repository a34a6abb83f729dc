"""Analytics tables: counts only, keyed by period, territory, metric and topic.

No chat id, no text, no time finer than a day: a row says "on 2026-11-27 in
Martinique, 42 young people talked to the assistant", never who.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from akto_data.models import Base, utcnow


class AnalyticsCount(Base):
    """One counter: ``value`` of ``metric`` (``key``: a topic, or empty) for one period and territory."""

    __tablename__ = "app_analytics_count"
    __table_args__ = (
        UniqueConstraint("period", "start", "territory", "metric", "key", name="uq_analytics_count"),
        Index("ix_analytics_count_period_start", "period", "start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: "day" or "week" (ISO week, starting on Monday).
    period: Mapped[str] = mapped_column(String(8))
    #: First day of the period (UTC).
    start: Mapped[date] = mapped_column(Date)
    #: Territory id of the catalogue, or "" when the young person has not said yet.
    territory: Mapped[str] = mapped_column(String(32))
    metric: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(64), default="")
    value: Mapped[int] = mapped_column(Integer, default=0)


class AnalyticsCursor(Base):
    """How far each source has been read (last processed row id), so a run reads only what is new."""

    __tablename__ = "app_analytics_cursor"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    #: Time (epoch seconds) of the row at ``last_id``, and the latest time of any row counted:
    #: SQLite hands the ids of deleted rows at the top (an erased conversation) to new rows,
    #: so a changed row at ``last_id`` makes the next run step back to the last counted row.
    last_at: Mapped[float | None] = mapped_column(Float)
    max_at: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
