"""The load benchmark's own logic: the order checker, its percentiles, its scripts.

``make load`` prints lost / duplicated / reordered counts read from Rasa's trackers;
a checker that missed a duplicate would print a reassuring zero in the fault run.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import httpx
import pytest
import yaml

import stack.load.runner as runner
from stack.load.check import Sent, compare, recorded_turns, rest_messages
from stack.load.runner import Load, Target, post
from stack.load.script import CYCLE, EXPLORE, SCRIPTS, Script, Step, long_conversation
from stack.load.stats import best_under, percentile

DOMAIN = Path(__file__).resolve().parents[2] / "domain"


def user(text: str, message_id: str | None = None) -> dict:
    return {"event": "user", "text": text, "message_id": message_id or "rasa-made"}


def bot(text: str, **data) -> dict:
    return {"event": "bot", "text": text, "data": data}


def sent(*texts: str, replies: int | None = 1) -> list[Sent]:
    return [Sent(f"c:{i}", text, replies) for i, text in enumerate(texts)]


def events(*texts: str) -> list[dict]:
    out: list[dict] = [{"event": "action", "name": "action_session_start"}]
    for text in texts:
        out += [user(text), {"event": "action", "name": "x"}, bot(f"re {text}"), {"event": "action_listen"}]
    return out


def test_a_tracker_holding_exactly_what_was_sent_is_clean():
    assert compare(sent("a", "b", "c"), events("a", "b", "c")).clean


def test_a_message_missing_from_the_tracker_is_lost():
    tally = compare(sent("a", "b", "c"), events("a", "c"))
    assert (tally.lost, tally.duplicated, tally.reordered) == (1, 0, 0)


def test_a_message_processed_twice_is_duplicated_once():
    tally = compare(sent("a", "b", "c"), events("a", "b", "b", "c"))
    assert (tally.lost, tally.duplicated, tally.reordered) == (0, 1, 0)


def test_messages_handled_out_of_order_are_reordered():
    tally = compare(sent("a", "b", "c", "d"), events("a", "c", "b", "d"))
    assert (tally.lost, tally.duplicated, tally.reordered) == (0, 0, 1)


def test_a_conversation_may_repeat_a_message_without_false_duplicates():
    """The long conversation sends the same questions again and again."""
    assert compare(sent("a", "b", "a", "b"), events("a", "b", "a", "b")).clean
    tally = compare(sent("a", "b", "a", "b"), events("a", "b", "a", "b", "b"))
    assert tally.duplicated == 1 and tally.lost == 0


def test_our_message_id_is_used_when_rasa_kept_it():
    """Two identical texts told apart by their ids: the second one first is a reordering."""
    messages = sent("oui", "oui")
    recorded = [user("oui", "c:1"), bot("x"), user("oui", "c:0"), bot("y")]
    assert compare(messages, recorded).reordered == 1
    assert compare(messages, [user("oui", "c:0"), bot("x"), user("oui", "c:0"), bot("y")]).duplicated == 1


def test_a_message_never_answered_to_the_client_may_be_absent():
    """Every retry failed: the client cannot know whether Rasa got it, so absent is not lost."""
    messages = [Sent("c:0", "a", 1), Sent("c:1", "b", None)]
    assert compare(messages, events("a")).clean
    assert compare(messages, events("a", "b")).clean


def test_replies_recorded_are_compared_with_the_replies_received():
    assert compare(sent("a", replies=2), events("a")).replies_lost == 1
    assert compare(sent("a", replies=1), [user("a"), bot("x"), bot("x")]).replies_duplicated == 1


def test_rest_messages_counts_as_rasas_rest_channel_splits_them():
    assert rest_messages(bot("one\n\ntwo\n\nthree")) == 3  # a text alone: one message per paragraph
    assert rest_messages(bot("one\n\ntwo", buttons=[{"title": "t", "payload": "/p"}])) == 1
    assert rest_messages(bot("", image="http://x/y.png")) == 1
    assert rest_messages(bot("text", custom={"k": 1})) == 2
    assert [count for *_, count in recorded_turns([bot("before anything"), user("a"), bot("x\n\ny")])] == [2]


def test_nearest_rank_percentiles():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50 and percentile(values, 95) == 95 and percentile(values, 99) == 99
    assert percentile([7.0], 99) == 7.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # unsorted input
    assert percentile([1.0, 2.0], 100) == 2.0 and percentile([1.0, 2.0], 0) == 1.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_the_ratio_uses_the_highest_concurrency_within_the_p95_limit():
    rates = {1: (5.0, 100.0), 4: (12.0, 400.0), 16: (20.0, 900.0)}
    assert best_under(rates, 500.0) == (4, 12.0)
    assert best_under({1: (5.0, 600.0)}, 500.0) is None
    assert best_under({1: (5.0, math.nan)}, 500.0) is None


def domain_intents() -> set[str]:
    intents: set[str] = set()
    for path in DOMAIN.glob("*.yml"):
        for item in (yaml.safe_load(path.read_text()) or {}).get("intents") or []:
            intents.add(item if isinstance(item, str) else next(iter(item)))
    return intents


@pytest.mark.parametrize("script", [*SCRIPTS, CYCLE], ids=lambda s: s.name)
def test_every_script_step_is_well_formed(script):
    """A press names a real intent with valid JSON entities, follows a step that checks a reply,
    and every step has a marker; step names are unique (they label the slowest-steps table)."""
    intents = domain_intents()
    names = [step.name for step in script.steps]
    assert len(set(names)) == len(names)
    assert not script.steps[0].message.startswith("/"), "a conversation cannot start with a button press"
    for step in script.steps:
        assert step.expect and all(marker.strip() for marker in step.expect), step.name
        if step.message.startswith("/"):
            match = re.fullmatch(r"/(\w+)(\{.*\})?", step.message)
            assert match, step.message
            assert match.group(1) in intents, f"{step.name}: unknown intent {match.group(1)}"
            if match.group(2):
                assert isinstance(json.loads(match.group(2)), dict)


def test_scripts_are_conversations_of_about_twelve_messages_covering_the_issue():
    assert all(10 <= len(script.steps) <= 16 for script in SCRIPTS)
    said = " ".join(step.name for script in SCRIPTS for step in script.steps)
    for part in ("greeting", "faq", "aid", "recruiting", "occupation-button", "pay", "pay-refine-button", "quiz-1",
                 "no-message"):
        assert part in said


def test_the_long_conversation_repeats_the_cycle():
    long = long_conversation(25)
    assert len(long.steps) == 25
    assert long.steps[10] == CYCLE.steps[0] and long.steps[24] == CYCLE.steps[4]


# -- the client: retries like the bot, errors never counted as answers ------------------------------------------

def fake_rasa(answer):
    """A REST channel answering ``answer(body, attempt_of_this_message_id)``; records every request body."""
    seen: list[dict] = []
    attempts: dict[str, int] = {}

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        attempts[body["message_id"]] = attempts.get(body["message_id"], 0) + 1
        return answer(body, attempts[body["message_id"]])

    return httpx.MockTransport(handle), seen


@pytest.fixture
def no_wait(monkeypatch):
    monkeypatch.setattr(runner, "RETRY_DELAYS", (0.0, 0.0, 0.0))


async def test_a_5xx_or_a_refused_connection_is_retried_with_the_same_message_id(no_wait):
    def answer(body, attempt):
        if attempt == 1:
            raise httpx.ConnectError("refused")
        if attempt == 2:
            return httpx.Response(503)
        return httpx.Response(200, json=[{"text": "ok"}])

    transport, seen = fake_rasa(answer)
    async with httpx.AsyncClient(transport=transport) as client:
        replies, retries, why = await post(client, Target("t", "http://rasa"), "42", 42, "slt", "42:0")
    assert replies == [{"text": "ok"}] and retries == 2 and why == "HTTP 503"
    assert {b["message_id"] for b in seen} == {"42:0"} and len(seen) == 3
    assert seen[0]["metadata"]["channel"] == "telegram" and seen[0]["metadata"]["chat_id"] == 42


async def test_retries_are_bounded_and_a_4xx_is_not_retried(no_wait):
    transport, seen = fake_rasa(lambda body, attempt: httpx.Response(502))
    async with httpx.AsyncClient(transport=transport) as client:
        replies, retries, error = await post(client, Target("t", "http://rasa"), "1", 1, "slt", "1:0")
    assert replies is None and retries == 3 and len(seen) == 4 and "HTTP 502" in (error or "")
    transport, seen = fake_rasa(lambda body, attempt: httpx.Response(400))
    async with httpx.AsyncClient(transport=transport) as client:
        replies, retries, error = await post(client, Target("t", "http://rasa"), "1", 1, "slt", "1:0")
    assert replies is None and len(seen) == 1 and error == "HTTP 400"


async def test_a_wrong_answer_is_an_error_that_ends_the_conversation_not_a_fast_reply():
    transport, seen = fake_rasa(lambda body, attempt: httpx.Response(200, json=[{"text": "Je n'ai pas compris"}]))
    load = Load(Target("t", "http://rasa"), 1, conversations=1, scripts=[EXPLORE])
    async with httpx.AsyncClient(transport=transport) as client:
        ok = await load.converse(client, EXPLORE)
    assert not ok and len(seen) == 1
    assert load.result.answered == [] and load.result.errors[0].step == "explore.greeting"
    assert "unexpected answer" in (load.result.errors[0].error or "")


async def test_a_button_never_offered_is_not_pressed(no_wait):
    script = Script("s", (Step("s.a", "slt", ("menu",)), Step("s.b", "/ask_aids", ("aides",))))
    transport, seen = fake_rasa(lambda body, attempt: httpx.Response(200, json=[{"text": "menu", "buttons": []}]))
    load = Load(Target("t", "http://rasa"), 1, conversations=1, scripts=[script])
    async with httpx.AsyncClient(transport=transport) as client:
        assert not await load.converse(client, script)
    assert len(seen) == 1 and load.result.errors[0].error == "button not offered"


def test_the_tables_print_a_level_with_nothing_answered_and_the_ratio(capsys):
    """A level where every message failed prints dashes, not a crash or a zero latency."""
    from stack.load.report import level_table, ratio_table
    from stack.load.runner import LevelResult, Outcome

    failed = LevelResult("ours", 4, 10.0, [Outcome("explore.greeting", "", None, "HTTP 503 after 5 retries", 5)])
    fine = LevelResult("ours", 1, 10.0, [Outcome("explore.greeting", "", 100.0)] * 50)
    other = LevelResult("std", 1, 10.0, [Outcome("explore.greeting", "", 80.0)] * 25)
    level_table([fine, failed])
    ratio_table([fine, failed], [other])
    out = capsys.readouterr().out
    assert "error at explore.greeting: HTTP 503 after 5 retries" in out
    assert "    4     0.0      –      –      – " in out
    assert "ours 5.0 msg/s at 1 chats, standard 2.5 msg/s at 1 chats, ratio 2.00" in out


def test_the_long_conversation_figure_prints_both_per_message_latencies(capsys):
    from stack.load.check import Tally
    from stack.load.report import long_table, told
    from stack.load.runner import LevelResult, Outcome

    short = LevelResult("ours", 1, 10.0, [Outcome("long.faq", "", 50.0)] * 20, conversations=2,
                        cpu_ms={"rasa": 600.0})
    long = LevelResult("ours", 1, 10.0, [Outcome("long.faq", "", 50.0)] * 10 + [Outcome("long.faq", "", 150.0)] * 10,
                       conversations=1, cpu_ms={"rasa": 800.0})
    long_table(short, long, 10)
    out = capsys.readouterr().out
    assert "2 conversations of 10 messages" in out and "mean    50 ms" in out and "Rasa CPU 30.0 ms/msg" in out
    assert "1 conversation of 20 messages" in out and "mean   100 ms" in out and "Rasa CPU 40.0 ms/msg" in out
    assert "its last 10 messages" in out and "mean   150 ms" in out
    assert told(Tally()).startswith("clean") and told(Tally(lost=2, reordered=1)) == "lost 2, reordered 1"
