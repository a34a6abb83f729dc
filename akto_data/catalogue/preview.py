"""How an entry will look in Telegram, before it is published.

The draft document set is loaded into a scratch in-memory database by the importer's
own code, then read through the same :class:`~akto_data.catalogue.queries.Catalogue`
and turned into text and buttons by the same builders as the custom actions
(:mod:`akto_data.catalogue.answers`). Consecutive texts are joined into one bubble
until one carries buttons, as the bot does with Rasa's replies; an FAQ answer or an
aid is followed by the domain's 👍/👎 question, as the dialogue rules say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import yaml
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from akto_data.catalogue.answers import aid_text, faq_text, occupation_card, quiz_question
from akto_data.catalogue.documents import Documents
from akto_data.catalogue.importer import TABLES, rows_of
from akto_data.catalogue.queries import Catalogue
from akto_data.catalogue.schema import check_documents
from akto_data.models import Base
from akto_data.settings import PROJECT_ROOT

TELEGRAM_TEXT_LIMIT = 4096


@dataclass
class Bubble:
    text: str
    buttons: list[str] = field(default_factory=list)

    @property
    def too_long(self) -> bool:
        return len(self.text) > TELEGRAM_TEXT_LIMIT


@lru_cache(maxsize=1)
def feedback_question() -> tuple[str, list[str]]:
    """``utter_ask_feedback`` of the domain: the question after every informative answer."""
    data = yaml.safe_load((PROJECT_ROOT / "domain" / "answers.yml").read_text(encoding="utf-8")) or {}
    variant = (data.get("responses") or {}).get("utter_ask_feedback", [{}])[0]
    return str(variant.get("text") or ""), [str(b["title"]) for b in variant.get("buttons") or []]


def _bubbles(replies: list[tuple[str, list[dict[str, str]]]]) -> list[Bubble]:
    out: list[Bubble] = []
    group: list[str] = []
    for text, buttons in replies:
        group.append(text)
        if buttons:
            out.append(Bubble("\n\n".join(group), [b["title"] for b in buttons]))
            group = []
    if group:
        out.append(Bubble("\n\n".join(group)))
    return out


def scratch_catalogue(documents: Documents) -> Session:
    """A throwaway in-memory database holding ``documents`` as the importer would load them."""
    catalogue, _errors = check_documents(documents, None, None)
    engine = create_engine("sqlite://", poolclass=StaticPool)
    names = {str(getattr(table, "__tablename__")) for table in TABLES}  # noqa: B009
    Base.metadata.create_all(engine, tables=[t for name, t in Base.metadata.tables.items() if name in names])
    session = Session(engine)
    for table, rows in rows_of(catalogue).items():
        session.add_all(table(**row) for row in rows)
    session.flush()
    return session


def preview(documents: Documents, kind: str, key: str, territory: str | None = None) -> list[Bubble]:
    """The Telegram bubbles of entry ``key`` of ``kind`` in ``documents`` (checked beforehand)."""
    with scratch_catalogue(documents) as session:
        catalogue = Catalogue(session)
        ask = feedback_question()
        feedback = (ask[0], [{"title": title, "payload": ""} for title in ask[1]])
        replies: list[tuple[str, list[dict[str, str]]]] = []
        if kind == "faq":
            text = faq_text(catalogue, key)
            if text is not None:
                replies = [(text, []), feedback]
        elif kind == "aides":
            replies = [(aid_text(catalogue, key), []), feedback]
        elif kind == "metiers":
            card = occupation_card(catalogue, key, territory)
            if card is not None:
                replies = [card]
        elif kind == "cfa":
            cfa = next((c for c in documents["cfas.yml"]["cfas"] if c.get("id") == key), None)
            for training in (cfa or {}).get("trainings") or []:
                card = occupation_card(catalogue, training["rome"], cfa["territory"] if cfa else None)
                if card is not None:
                    replies = [card]
                    break
        elif kind == "quiz":
            quiz: dict[str, Any] = catalogue.document("quiz")
            replies = [quiz_question(quiz, question) for question in quiz["questions"]]
        return _bubbles(replies)
