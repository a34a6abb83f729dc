"""Table of the retrained models (console, "Réentraîner")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from akto_data.models import Base, utcnow

#: Job states: running (training, evaluating or loading), then one of the others.
RUNNING, FAILED, REFUSED, LOADED = "running", "failed", "refused", "loaded"
#: A model that was running when the console first measured it (started by make run).
STARTUP = "startup"


class NluModel(Base):
    """One model: a retraining job's outcome, or the model found running at start.

    ``scores`` maps a held-out set's file name to its figures (macro_f1, oos, accuracy,
    n); ``baseline`` holds the running model's figures it was compared with. Exactly
    one row is ``active`` once the console has loaded or measured a model.
    """

    __tablename__ = "app_nlu_model"

    id: Mapped[int] = mapped_column(primary_key=True)
    file: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default=RUNNING)
    #: What the job is doing now (shown while it runs), in French.
    step: Mapped[str | None] = mapped_column(String(200))
    #: Why it failed or was refused, in French.
    message: Mapped[str | None] = mapped_column(Text)
    scores: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    baseline: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    examples: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
