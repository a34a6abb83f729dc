"""(placeholder) CFA-side time-based steps: reminders after 2 and 5 working days, weekly digest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session


def queue_cfa_steps(session: Session, now: datetime) -> int:
    return 0
