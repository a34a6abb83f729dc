"""A long conversation is answered as Rasa answers it, at the cost of a short one.

``rasa_components.serving.history`` stops Rasa from going over the whole conversation at
each message (applied events extended, the rule policy's last states carried on, the
action server sent the recent events). What a young person would notice if it were
wrong: after many messages, a different answer than Rasa's own would give (a rule that
no longer fires, a form that loses its place), or an action that misreads the
conversation (the previous message, a value before the latest message).

The conversations are real ones: the load benchmark's long conversation (greeting, FAQ,
aids, recruiting list and its button, pay form, quiz, lead form to its recap, again and
again) played through the session's Rasa stack, then read back. In Rasa's environment,
with the trained model, the events are fed one by one to one tracker, as a server
receives them, and at every action Rasa would predict, the prediction with our changes
is compared with Rasa's own (its functions, a tracker rebuilt from the events). The
same is done after a reverted message and a restart, which make Rasa drop events.
"""

from __future__ import annotations

import json
import subprocess

import httpx
import pytest
from rasa_sdk import Tracker

from actions.texts import latest_metadata, user_events, value_before_latest_message
from akto_data.settings import PROJECT_ROOT
from stack.load.runner import Target, run_level
from stack.load.script import long_conversation
from stack.model import ensure_model

RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"

COMPARE = r"""
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import rasa_components.serving as serving
serving.install()
from rasa.core.agent import Agent
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.constants import PLACEHOLDER_TRACKER
from rasa.shared.core.events import ActionExecuted, Restarted, UserUttered, UserUtteranceReverted, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_components.serving import history

data = json.load(sys.stdin)
processor = Agent.load(data["model"]).processor
from rasa.graph_components.providers.domain_provider import DomainProvider
# the domain the policies get from the graph (processor.domain is another, equal, object)
domain = next(node._component._domain for node in processor.graph_runner._instantiated_nodes.values()
              if isinstance(getattr(node, "_component", None), DomainProvider))
policy = next(node._component for node in processor.graph_runner._instantiated_nodes.values()
              if isinstance(getattr(node, "_component", None), RulePolicy))
ours = {"rule_states": RulePolicy._prediction_states, "applied_events": DialogueStateTracker.applied_events,
        "is_rule_applicable": RulePolicy._is_rule_applicable, "get_possible_keys": RulePolicy._get_possible_keys}

def use(functions):
    RulePolicy._prediction_states = functions["rule_states"]
    DialogueStateTracker.applied_events = functions["applied_events"]
    RulePolicy._is_rule_applicable = functions["is_rule_applicable"]
    RulePolicy._get_possible_keys = functions["get_possible_keys"]

def snapshot(tracker):
    # everything a tracker holds, objects by identity where a replay shares them with the events
    fields = {key: value for key, value in vars(tracker).items() if key not in ("events", "slots", "_applied_kept")}
    for key in ("latest_message", "latest_bot_utterance"):  # an event, or a new empty one (before any)
        value = fields[key]
        fields[key] = id(value) if any(value is e for e in tracker.events) else ("empty", {k: v for k, v in value.as_dict().items() if k != "timestamp"})
    fields["active_loop"] = repr(fields["active_loop"])
    return {**{key: repr(value) for key, value in fields.items()}, "events": [id(e) for e in tracker.events],
            **{"slot " + name: repr(sorted(vars(slot).items())) for name, slot in tracker.slots.items()}}

def differences(a, b):
    return {key: [a.get(key), b.get(key)] for key in set(a) | set(b) if a.get(key) != b.get(key)}

def rule_keys(states):
    return [sorted(policy._get_possible_keys(policy.lookup[kind], states))
            for kind in ("rules", "rules_for_loop_unhappy_path")]

def prediction(tracker):
    p = processor.graph_runner.run(inputs={PLACEHOLDER_TRACKER: tracker},
                                   targets=[processor.model_metadata.core_target])[processor.model_metadata.core_target]
    return [p.policy_name, round(p.max_confidence, 6), domain.action_names_or_texts[p.max_confidence_index],
            [{k: v for k, v in e.as_dict().items() if k != "timestamp"} for e in p.events], p.hide_rule_turn, p.is_end_to_end_prediction, p.is_no_user_prediction]

out = {"predictions": 0, "mismatches": [], "states_compared": 0, "applied_compared": 0, "windows": [],
       "longest": 0, "keys_found": 0, "copies": 0}
for number, dicts in enumerate(data["conversations"]):
    events = deserialise_events(dicts)
    # After the real conversation: its last message taken back, sent again, then a restart and
    # the conversation's first messages again (new event objects, as a fresh read gives).
    users = [i for i, e in enumerate(events) if isinstance(e, UserUttered)]
    again = deserialise_events(dicts[users[-1]:])
    first = deserialise_events(dicts[:users[8]])
    events += [UserUtteranceReverted(), *again, Restarted(), ActionExecuted("action_listen"), *first]
    sender = f"compare-{number}"
    live = DialogueStateTracker.from_events(sender, [], domain.slots)
    for index, event in enumerate(events):
        if isinstance(event, ActionExecuted):
            out["copies"] += 1
            copied = differences(snapshot(live.copy()), snapshot(history.RASA["copy"](live)))
            if copied:
                out["mismatches"].append({"at": index, "copy": copied})
            use(ours)
            ours_prediction = prediction(live)
            ours_states = [policy._prediction_states(live, domain, flag) for flag in (True, False)]
            ours_keys = [rule_keys(states) for states in ours_states]
            use(history.RASA)
            reference = DialogueStateTracker.from_events(sender + "-reference", events[:index], domain.slots)
            rasa_prediction = prediction(reference)
            rasa_states = [policy._prediction_states(reference, domain, flag) for flag in (True, False)]
            rasa_keys = [rule_keys(states) for states in rasa_states]
            use(ours)
            out["predictions"] += 1
            if ours_prediction != rasa_prediction:
                out["mismatches"].append({"at": index, "ours": ours_prediction, "rasa": rasa_prediction})
            for mine, theirs in zip(ours_states, rasa_states):
                out["states_compared"] += 1
                out["longest"] = max(out["longest"], len(theirs))
                if mine != theirs[-len(mine):]:
                    out["mismatches"].append({"at": index, "states": True})
            if ours_keys != rasa_keys:
                out["mismatches"].append({"at": index, "rule keys": True})
            out["keys_found"] += sum(len(keys) for pair in ours_keys for keys in pair)
        live.update(event)
        if [id(e) for e in live.applied_events()] != [id(e) for e in history.RASA["applied_events"](live)]:
            out["mismatches"].append({"at": index, "applied_events": True})
        out["applied_compared"] += 1
        if isinstance(event, ActionExecuted) and event.action_name.startswith("action_") and index % 5 == 0:
            out["windows"].append({"full": [e.as_dict() for e in live.events],
                                   "sent": history.action_events(list(live.events)),
                                   "slots": live.current_slot_values()})
out["replays"] = history.REPLAYS
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def compared(rasa_stack) -> dict:
    """Two long conversations played on the stack, then compared in Rasa's environment."""
    import asyncio

    target = Target("history", rasa_stack.settings.rasa_url, rasa_stack.settings.rasa_auth_token)
    result = asyncio.run(run_level(target, 2, conversations=2, scripts=[long_conversation(60)]))
    assert [(o.step, o.error) for o in result.errors] == [] and result.tally.clean, result.tally
    conversations = []
    for sender in result.sent:
        response = httpx.get(f"{target.url}/conversations/{sender}/tracker",
                             params={"token": target.token, "include_events": "ALL"}, timeout=60)
        conversations.append(response.json()["events"])
    run = subprocess.run([str(RASA_PYTHON), "-c", COMPARE], cwd=PROJECT_ROOT, capture_output=True, text=True,
                         timeout=1200, env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"},
                         input=json.dumps({"model": str(ensure_model()), "conversations": conversations}))
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_every_prediction_of_a_long_conversation_is_rasas_own(compared):
    """Every action of two 60-message conversations, a revert and a restart: the same prediction, the same copy."""
    assert compared["mismatches"][:3] == [], len(compared["mismatches"])
    assert compared["predictions"] > 300
    assert compared["copies"] == compared["predictions"]  # the tracker copied at every action, as Rasa's copy
    assert compared["keys_found"] > compared["predictions"]  # rules matched: the keys compared were not all empty
    assert compared["longest"] > 150  # Rasa's states went far beyond the rule window: it was cut
    assert compared["replays"]["carried"] > 10 * compared["replays"]["started"]  # carried on, not rebuilt


def test_an_action_reads_the_recent_conversation_as_it_did_the_whole(compared):
    """What our actions read of the events is the same in the window sent as in the whole conversation."""
    windows = compared["windows"]
    assert len(windows) > 10
    cut = 0
    for window in windows:
        full, sent = (Tracker("chat", window["slots"], {}, window[key], False, None, {}, "")
                      for key in ("full", "sent"))
        cut += len(window["sent"]) < len(window["full"])
        assert user_events(sent)[-2:] == user_events(full)[-2:]
        assert latest_metadata(sent) == latest_metadata(full)
        for slot in window["slots"]:
            assert value_before_latest_message(sent, slot) == value_before_latest_message(full, slot), slot
        assert sent.slots_to_validate() == full.slots_to_validate()
    assert cut > len(windows) // 2  # most windows were cut: the check compared something
