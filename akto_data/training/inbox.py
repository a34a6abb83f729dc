"""The console's inbox: messages the assistant failed on (fallback) or that got a 👎,
grouped by similarity, newest first, filterable by territory.

Grouping is plain standard library: each message becomes a vector of character
trigrams of its normalised text (lower case, no accents, SMS spacing ignored), and a
message joins the group of the most similar earlier message when their cosine is at
least :data:`SIMILARITY`; otherwise it opens a group. "c koi la poec", "c'est koi la
POEC ?" and "cest quoi la poec" end up together; two different questions that share
a word do not.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from akto_data.models import UnansweredMessage

#: Cosine of character-trigram vectors from which two messages are "the same question".
SIMILARITY = 0.55
#: How many unhandled messages the inbox reads (newest first).
INBOX_LIMIT = 500
REASONS = {"fallback": "non compris", "negative_feedback": "👎"}


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def trigrams(text: str) -> Counter[str]:
    padded = f" {normalise(text)} "
    return Counter(padded[i:i + 3] for i in range(len(padded) - 2))


def cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    small, large = (a, b) if len(a) < len(b) else (b, a)
    dot = sum(count * large[gram] for gram, count in small.items() if gram in large)
    return dot / (math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values())))


@dataclass(frozen=True)
class InboxMessage:
    id: int
    text: str
    reason: str
    guessed_topic: str | None
    confidence: float | None
    territory: str | None
    created_at: datetime

    @property
    def reason_label(self) -> str:
        return REASONS.get(self.reason, self.reason)


@dataclass
class Group:
    messages: list[InboxMessage] = field(default_factory=list)

    @property
    def key(self) -> str:
        """Stable id of the group on the page: its newest message's id."""
        return str(self.messages[0].id)

    @property
    def newest(self) -> datetime:
        return self.messages[0].created_at

    @property
    def ids(self) -> list[int]:
        return [m.id for m in self.messages]

    @property
    def guessed_topic(self) -> str | None:
        """The topic the assistant guessed most often in the group."""
        guesses = Counter(m.guessed_topic for m in self.messages if m.guessed_topic)
        return guesses.most_common(1)[0][0] if guesses else None

    @property
    def confidence(self) -> float | None:
        """Mean confidence of the group's guesses of :attr:`guessed_topic`."""
        values = [m.confidence for m in self.messages
                  if m.guessed_topic == self.guessed_topic and m.confidence is not None]
        return sum(values) / len(values) if values else None


def _similarities(vectors: list[Counter[str]]) -> np.ndarray:
    """Cosine similarity of every pair of trigram vectors, as one matrix product (the page
    groups up to 500 messages: pair by pair in Python took about half a second)."""
    vocabulary: dict[str, int] = {}
    for vector in vectors:
        for gram in vector:
            vocabulary.setdefault(gram, len(vocabulary))
    matrix = np.zeros((len(vectors), max(len(vocabulary), 1)), dtype=np.float32)
    for row, vector in enumerate(vectors):
        for gram, count in vector.items():
            matrix[row, vocabulary[gram]] = count
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix /= np.where(norms == 0, 1, norms)
    return matrix @ matrix.T


def group_messages(messages: list[InboxMessage], threshold: float = SIMILARITY) -> list[Group]:
    """Messages (newest first) in groups of similar texts; groups ordered by their newest message."""
    groups: list[Group] = []
    if not messages:
        return groups
    similarity = _similarities([trigrams(m.text) for m in messages])
    owner: list[Group] = []
    for index, message in enumerate(messages):
        best: Group | None = None
        if index:
            earlier = similarity[index, :index]
            nearest = int(earlier.argmax())
            if earlier[nearest] >= threshold:
                best = owner[nearest]
        if best is None:
            best = Group()
            groups.append(best)
        best.messages.append(message)
        owner.append(best)
    return groups


def inbox(session: Session, territory: str | None = None, limit: int = INBOX_LIMIT) -> list[Group]:
    """Unhandled messages of the review log, grouped, newest first; ``territory`` filters."""
    query = (select(UnansweredMessage).where(UnansweredMessage.handled_as.is_(None))
             .order_by(UnansweredMessage.created_at.desc(), UnansweredMessage.id.desc()).limit(limit))
    if territory:
        query = query.where(UnansweredMessage.territory == territory)
    rows = [InboxMessage(r.id, r.text, r.reason, r.guessed_topic, r.confidence, r.territory, r.created_at)
            for r in session.scalars(query)]
    return group_messages(rows)
