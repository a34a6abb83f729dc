"""Content versions: every publish of the catalogue, numbered, with its whole document set.

The database is what runs; each publish (staff console, restore, or YAML import)
stores the full public document set as JSON, who published it, when, a summary and
the readable differences from the version before. Restoring a version publishes its
documents again as a new version. The private delivery settings are never stored here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from akto_data.models import Base, utcnow


class ContentVersion(Base):
    __tablename__ = "cat_content_version"

    #: 1, 2, 3… (a second publish racing for the same number fails on this key).
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    author: Mapped[str] = mapped_column(String(254))
    summary: Mapped[str] = mapped_column(Text)
    #: "console" (an entry edited), "restore" (an earlier version put back), "yaml" (content/ imported).
    source: Mapped[str] = mapped_column(String(16))
    restored_from: Mapped[int | None] = mapped_column(Integer)
    #: The public content files as parsed YAML, dates as ISO strings: ``{"faq.yml": {...}}``.
    documents: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Differences from the version before (:func:`akto_data.catalogue.documents.diff`).
    changes: Mapped[list[Any]] = mapped_column(JSON)
    #: For YAML imports: hash of the content/ files imported (to tell at start whether they changed).
    files_digest: Mapped[str | None] = mapped_column(String(64))
