"""Finding 20 of issue 10: one unit of work per action or handler, and no migrations
inside library functions (the launcher and the action server migrate once at start).

A session per query meant a new connection checkout and transaction for each read:
the aid chat's last step opened about ten. Each action now opens one session and
passes it down; these tests count the transactions an action really starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import event

from actions.aid_finder import ActionAidFinder
from actions.answers import ActionAnswerAid, ActionAnswerFaq
from actions.lead_submit import ActionLeadIntro
from actions.leads import ActionAskLeadConsent
from actions.occupations import ActionOccupationCard, ActionRecruitingJobs
from actions.pay import ActionAnswerPay
from actions.quiz import ActionQuiz
from akto_data.db import get_engine

FILLED_LEAD = {"lead_first_name": "Léa", "age": "19", "territory": "martinique", "lead_town": "Le Lamentin",
               "occupation": "G1602", "diploma_level": "3", "lead_start": "rentree", "lead_employer": "no",
               "lead_mobility": "none", "lead_cfa": "mq_umih", "lead_contact_channel": "phone",
               "lead_contact_value": "+596696123456", "lead_reasons_picked": ["pay"], "lead_message": "none"}


@contextmanager
def transactions() -> Iterator[list[int]]:
    """Count the transactions started on the application's engine."""
    counted = [0]

    def begun(_connection: object) -> None:
        counted[0] += 1

    engine = get_engine()
    event.listen(engine, "begin", begun)
    try:
        yield counted
    finally:
        event.remove(engine, "begin", begun)


def tracker(slots: dict, intent: str = "inform", entities: tuple = ()) -> Tracker:
    latest = {"text": "", "intent": {"name": intent, "confidence": 1.0}, "entities": list(entities)}
    return Tracker("chat-20", slots, latest, [{"event": "user", "text": "", "parse_data": latest}], False, None, {}, "")


CASES = [
    ("aid chat, last answer", ActionAidFinder(), tracker(
        {"age": "19", "territory": "martinique",
         "aid_progress": '{"status": "future_apprentice", "destination": "hexagone"}'},
        "aid_answer", ({"entity": "aid_step", "value": "need:licence"},))),
    ("quiz, results", ActionQuiz(), tracker(
        {"territory": "martinique", "quiz_progress": '{"q1": 0, "q2": 0, "q3": 0, "q4": 0, "q5": 0, "q6": 0, '
                                                     '"q7": 0, "q8": 0, "q9": 0}'},
        "quiz_answer", ({"entity": "quiz_choice", "value": "q10-0"},))),
    ("recruiting list", ActionRecruitingJobs(), tracker({"territory": "martinique"})),
    ("occupation card", ActionOccupationCard(), tracker(
        {"territory": "martinique"}, "ask_occupation", ({"entity": "occupation", "value": "G1602"},))),
    ("pay answer", ActionAnswerPay(), tracker({"age": "19", "contract_year": "1", "territory": "martinique"})),
    ("aid answer", ActionAnswerAid(), tracker({}, "ask_driving_licence_aid")),
    ("faq answer", ActionAnswerFaq(), tracker({}, "ask_apprenticeship_age")),
    ("lead intro", ActionLeadIntro(), tracker(FILLED_LEAD)),
    ("lead recap", ActionAskLeadConsent(), tracker(FILLED_LEAD)),
]


@pytest.mark.parametrize(("name", "action", "state"), CASES, ids=[case[0] for case in CASES])
def test_finding_20_each_action_runs_in_one_unit_of_work(catalogue, name, action, state):
    dispatcher = CollectingDispatcher()
    with transactions() as counted:
        asyncio.run(action.run(dispatcher, state, {}))
    assert dispatcher.messages, f"{name}: no answer"
    assert counted[0] == 1, f"{name}: {counted[0]} transactions for one answer"


def test_finding_20_data_rights_and_leads_never_migrate(catalogue, monkeypatch):
    """Migrations belong to start-up; a request that migrates can stall on a lock mid-conversation."""
    import akto_data.db
    import akto_data.migrate
    from akto_data.db import session_scope
    from akto_data.leads.store import create_lead
    from akto_data.privacy import erase_chat, what_we_hold

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("migration run inside a request")

    monkeypatch.setattr(akto_data.migrate, "upgrade", refuse)
    monkeypatch.setattr(akto_data.db, "_schema_ready", set())  # as in a process that has not migrated itself
    data = {"chat_id": "chat-20", "cfa_id": "mq_umih", "rome": "G1602", "training": "CAP Cuisine",
            "first_name": "Léa", "age": 19, "territory": "martinique", "town": "Le Lamentin", "diploma_level": 3,
            "start_when": "rentree", "has_employer": False, "mobility": "none", "contact_channel": "phone",
            "contact_value": "+596696123456", "reasons": ["pay"], "message": None, "minor": False}
    with session_scope() as session:
        create_lead(data, "v1", 3, session=session)
    assert "Léa" in what_we_hold("chat-20").render()
    erase_chat("chat-20")
    assert "Léa" not in what_we_hold("chat-20").render()
