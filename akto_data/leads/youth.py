"""(placeholder) Young-person-side time-based steps: day-7 question, offer of another CFA."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session


def queue_youth_steps(session: Session, now: datetime) -> int:
    return 0
