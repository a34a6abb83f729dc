"""Synthetic conversations, stored as Rasa 3.6's SQL tracker store stores them.

Used by the analytics tests (counts must match what was seeded) and by the console
benchmark (``python -m web.bench``: 100,000 conversations). Each :class:`Spec` says
what one conversation did; :func:`rows` turns it into ``events`` rows (same columns,
same JSON shape as ``SQLTrackerStore.save``); :func:`expected` counts the specs
directly, independently of the aggregation.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert

from akto_data.leads.models import Lead, LeadStatusEvent
from akto_data.personal_data import RASA_EVENTS

TOPICS = ("ask_pay", "ask_aids", "ask_apprenticeship", "ask_recruiting_jobs", "ask_contract", "ask_age_limit",
          "ask_privacy", "ask_training_cost", "ask_status")
TERRITORIES = ("martinique", "guadeloupe", "guyane", "reunion", "mayotte", "saint_martin", "saint_barthelemy")
MODEL = {"model_id": "bench", "assistant_id": "ici-cest-ma-place"}


@dataclass
class Spec:
    """One conversation (one Rasa session) of one young person."""

    sender: str
    start: datetime
    territory: str | None
    topics: list[str]
    fallbacks: int = 0
    quiz: bool = False
    occupation_card: bool = False
    lead_form: bool = False
    #: (topic it follows, helpful): a 👍/👎 right after the answer to that topic.
    feedback: list[tuple[str, bool]] = field(default_factory=list)
    #: Says the territory during this conversation (else it was carried over or never said).
    says_territory: bool = True

    @property
    def day(self) -> date:
        return self.start.astimezone(UTC).date()


def _event(sender: str, type_name: str, at: float, *, intent: str | None = None, action: str | None = None,
           **data: Any) -> dict[str, Any]:
    body = {"event": type_name, "timestamp": at, **data}
    if action:
        body["name"] = action
    return {"sender_id": sender, "type_name": type_name, "timestamp": at, "intent_name": intent,
            "action_name": action, "data": json.dumps(body, ensure_ascii=False)}


def rows(spec: Spec) -> list[dict[str, Any]]:
    sender, at = spec.sender, spec.start.timestamp()
    profile = {"channel": "telegram", "chat_id": sender, "language": "fr", "first_name": "Jeune"}
    out = [
        _event(sender, "action", at, action="action_session_start", policy=None, confidence=1.0, metadata=MODEL),
        _event(sender, "session_started", at, metadata=profile),
        _event(sender, "slot", at, name="session_started_metadata", value=profile, metadata=MODEL),
    ]
    if spec.territory and not spec.says_territory:  # carried over from an earlier session
        out.append(_event(sender, "slot", at, name="territory", value=spec.territory, metadata=MODEL))
    out.append(_event(sender, "action", at, action="action_listen", metadata=MODEL))
    clock = [at]

    def turn(intent: str, action: str, text: str = "…", slots: Sequence[tuple[str, Any]] = ()) -> None:
        clock[0] += 3
        moment = clock[0]
        out.append(_event(sender, "user", moment, intent=intent, text=text, metadata=profile, input_channel="rest",
                          parse_data={"intent": {"name": intent, "confidence": 0.9}, "entities": [], "text": text,
                                      "intent_ranking": [{"name": intent, "confidence": 0.9}]}))
        out.append(_event(sender, "user_featurization", moment, use_text_for_featurization=False))
        out.append(_event(sender, "action", moment + 0.2, action=action, policy="RulePolicy", confidence=1.0,
                          metadata=MODEL))
        out.append(_event(sender, "bot", moment + 0.3, text="Réponse de l'assistant.",
                          data={"buttons": None}, metadata={"utter_action": action}))
        out.extend(_event(sender, "slot", moment + 0.3, name=name, value=value, metadata=MODEL) for name, value in slots)
        out.append(_event(sender, "action", moment + 0.4, action="action_listen", metadata=MODEL))

    turn("greet", "action_handle_start", "/start")
    if spec.territory and spec.says_territory:
        turn("inform", "utter_ask_topic", "je suis en " + spec.territory, [("territory", spec.territory)])
    for topic in spec.topics:
        turn(topic, "action_answer_faq", "une question")
        for about, helpful in spec.feedback:
            if about == topic:
                turn("feedback_positive" if helpful else "feedback_negative", "action_store_feedback", "👍")
    for _ in range(spec.fallbacks):
        turn("nlu_fallback", "action_fallback", "azerty")
    if spec.quiz:
        turn("start_orientation", "action_quiz", "le quiz", [("quiz_progress", "{}")])
        turn("quiz_answer", "action_quiz", "/quiz_answer", [("quiz_progress", '{"q1": 0}')])
        turn("quiz_answer", "action_quiz", "/quiz_answer", [("quiz_progress", None)])
    if spec.occupation_card:
        turn("ask_occupation", "action_occupation_card", "boulanger", [("occupation", "D1102")])
    if spec.lead_form:
        turn("request_cfa_contact", "action_lead_intro", "je veux être contacté", [("lead_cfa", None)])
    return out


def make_specs(count: int, first_day: date, days: int, seed: int = 7, returning_share: float = 0.2) -> list[Spec]:
    """``count`` conversations over ``days`` days; about ``returning_share`` of them are a second
    conversation of an earlier young person, at least one day later."""
    rng = random.Random(seed)
    specs: list[Spec] = []
    territory_of: dict[str, str | None] = {}
    for number in range(count):
        day = first_day + timedelta(days=rng.randrange(days))
        start = datetime(day.year, day.month, day.day, rng.randrange(7, 20), rng.randrange(60), tzinfo=UTC)
        earlier = [s for s in specs[-200:] if s.day < day] if specs and rng.random() < returning_share else []
        if earlier:
            sender = rng.choice(earlier).sender
            territory, says = territory_of[sender], False
        else:
            sender = str(600_000_000 + number)
            territory = rng.choice(TERRITORIES) if rng.random() < 0.9 else None
            territory_of[sender], says = territory, True
        topics = rng.sample(TOPICS, rng.randrange(1, 4))
        feedback = [(topics[-1], rng.random() < 0.7)] if rng.random() < 0.25 else []
        specs.append(Spec(sender, start, territory, topics, fallbacks=rng.choice((0, 0, 0, 1, 2)),
                          quiz=rng.random() < 0.3, occupation_card=rng.random() < 0.25, lead_form=rng.random() < 0.1,
                          feedback=feedback, says_territory=says))
    specs.sort(key=lambda s: s.start)
    # a sender's second conversation must come after its first one in time
    seen: dict[str, datetime] = {}
    kept = []
    for spec in specs:
        if spec.sender in seen and spec.day <= seen[spec.sender].date():
            continue
        seen.setdefault(spec.sender, spec.start)
        kept.append(spec)
    return kept


def store(connection: Connection, specs: Iterable[Spec], chunk: int = 20_000) -> int:
    """Insert the specs' rows into ``events`` (oldest first, as Rasa would); returns the row count."""
    buffer: list[dict[str, Any]] = []
    total = 0
    for spec in specs:
        buffer += rows(spec)
        if len(buffer) >= chunk:
            connection.execute(insert(RASA_EVENTS), buffer)
            total += len(buffer)
            buffer = []
    if buffer:
        connection.execute(insert(RASA_EVENTS), buffer)
        total += len(buffer)
    return total


def expected(specs: Sequence[Spec], period: str = "day") -> Counter[tuple[date, str, str, str]]:
    """What the counters must hold, from the specs alone: ``(start, territory, metric, key) -> value``.

    A young person keeps one territory (as :func:`make_specs` gives).
    """
    counts: Counter[tuple[date, str, str, str]] = Counter()
    reached: dict[tuple[str, date], set[str]] = {}
    first_day: dict[str, date] = {}
    for spec in sorted(specs, key=lambda s: s.start):
        first_day.setdefault(spec.sender, spec.day)
    for spec in specs:
        start = spec.day if period == "day" else spec.day - timedelta(days=spec.day.weekday())
        first = first_day[spec.sender]
        first_start = first if period == "day" else first - timedelta(days=first.weekday())
        territory = spec.territory or ""
        messages = 1 + (1 if spec.territory and spec.says_territory else 0) + len(spec.topics) + len(spec.feedback) \
            + spec.fallbacks + (3 if spec.quiz else 0) + (1 if spec.occupation_card else 0) + (1 if spec.lead_form else 0)
        key = (start, territory)
        counts[(*key, "conversations", "")] += 1
        counts[(*key, "user_messages", "")] += messages
        counts[(*key, "bot_messages", "")] += messages
        counts[(*key, "fallbacks", "")] += spec.fallbacks
        intents = ["greet", *(["inform"] if spec.territory and spec.says_territory else []), *spec.topics,
                   *("feedback_positive" if helpful else "feedback_negative" for _, helpful in spec.feedback),
                   *["nlu_fallback"] * spec.fallbacks,
                   *(["start_orientation", "quiz_answer", "quiz_answer"] if spec.quiz else []),
                   *(["ask_occupation"] if spec.occupation_card else []),
                   *(["request_cfa_contact"] if spec.lead_form else [])]
        for intent in intents:
            counts[(*key, "topic", intent)] += 1
        for topic, helpful in spec.feedback:
            counts[(*key, "feedback_up" if helpful else "feedback_down", topic)] += 1
        # distinct young people per period
        steps = {"start"} | {step for step, done in (("quiz_done", spec.quiz), ("occupation_card", spec.occupation_card),
                                                     ("lead_form", spec.lead_form)) if done}
        if (spec.sender, start) not in reached:
            reached[spec.sender, start] = set()
            counts[(*key, "users", "")] += 1
            counts[(*key, "new_users" if first_start == start else "returning_users", "")] += 1
        for step in steps - reached[spec.sender, start]:
            counts[(*key, "funnel", step)] += 1
        reached[spec.sender, start] |= steps
    return Counter({k: v for k, v in counts.items() if v})


def store_leads(connection: Connection, leads: Iterable[tuple[str, datetime, Sequence[str]]]) -> int:
    """Leads (territory, created at, statuses after "new"), with their status history; returns the count."""
    count = 0
    for number, (territory, created, statuses) in enumerate(leads):
        lead_id = connection.execute(insert(Lead).values(
            idempotency_key=f"synthetic-{number}-{created.timestamp()}", chat_id=None, cfa_id="mq_umih",
            rome="G1602", training="CAP Cuisine", territory=territory, consent_version="1", consented_at=created,
            score=0, status=statuses[-1] if statuses else "new", created_at=created, reasons=[])).inserted_primary_key[0]  # type: ignore[index]
        history = [{"lead_id": lead_id, "status": "new", "at": created, "by": "system"}]
        history += [{"lead_id": lead_id, "status": status, "at": created + timedelta(hours=1 + i), "by": "cfa"}
                    for i, status in enumerate(statuses)]
        connection.execute(insert(LeadStatusEvent), history)
        count += 1
    return count
