"""What staff review: messages the assistant failed on, and feedback per topic.

Written by the custom actions (fallback, 👎); read by ``make review``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from akto_data.db import create_schema, session_scope
from akto_data.models import Feedback, UnansweredMessage, utcnow
from akto_data.redact import mask_contacts


def unanswered_text(text: str) -> str:
    """How a message is stored in the review log (contacts masked, length capped).

    :mod:`akto_data.personal_data` applies it to a chat's messages to find that chat's
    rows for /mes_donnees and /supprimer, since the log keeps no chat id.
    """
    return mask_contacts(text)[:2000]


def record_unanswered(session: Session, text: str, reason: str, guessed_topic: str | None,
                      confidence: float | None, territory: str | None = None) -> None:
    """Log a message for staff; ``territory`` is the conversation's slot (the inbox filters on it)."""
    session.add(UnansweredMessage(text=unanswered_text(text), reason=reason, guessed_topic=guessed_topic,
                                  confidence=confidence, territory=str(territory)[:32] if territory else None))


def record_feedback(session: Session, topic: str, helpful: bool) -> None:
    session.add(Feedback(topic=topic, helpful=helpful))


@dataclass(frozen=True)
class TopicScore:
    topic: str
    helpful: int
    not_helpful: int


def feedback_by_topic(since: datetime | None = None) -> list[TopicScore]:
    query = select(
        Feedback.topic,
        func.sum(case((Feedback.helpful, 1), else_=0)),
        func.sum(case((Feedback.helpful, 0), else_=1)),
    ).group_by(Feedback.topic).order_by(Feedback.topic)
    if since is not None:
        query = query.where(Feedback.created_at >= since)
    with session_scope() as session:
        return [TopicScore(topic, int(up), int(down)) for topic, up, down in session.execute(query)]


def unanswered(since: datetime | None = None, limit: int = 200) -> list[UnansweredMessage]:
    query = select(UnansweredMessage).order_by(UnansweredMessage.created_at.desc()).limit(limit)
    if since is not None:
        query = query.where(UnansweredMessage.created_at >= since)
    with session_scope() as session:
        return list(session.scalars(query))


def main() -> None:
    parser = argparse.ArgumentParser(description="Questions non comprises et avis 👍/👎 par sujet.")
    parser.add_argument("--days", type=int, default=30, help="période examinée (jours, défaut 30)")
    args = parser.parse_args()
    create_schema()
    since = utcnow() - timedelta(days=args.days)
    rows = unanswered(since)
    print(f"Messages non compris ou jugés inutiles ({len(rows)}, {args.days} derniers jours) :")
    for row in rows:
        guess = f"{row.guessed_topic} {row.confidence:.2f}" if row.guessed_topic and row.confidence is not None else "?"
        print(f"  {row.created_at:%Y-%m-%d %H:%M}  [{row.reason}]  ({guess})  {row.text}")
    print("\nAvis par sujet (👍 / 👎) :")
    for score in feedback_by_topic(since):
        print(f"  {score.topic:28s} {score.helpful:4d} / {score.not_helpful:4d}")


if __name__ == "__main__":
    main()
