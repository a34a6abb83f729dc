"""A button pressed is understood exactly as Rasa's whole pipeline understood it.

``rasa_components.serving.hot_path`` (part 5) builds the parse of a button payload
(``/inform{"lead_start": "rentree"}``) without running the language models, whose
guesses Rasa's ``RegexMessageHandler`` replaced anyway. What a young person would notice
if it were wrong: a button that answers something else, or loses the value it carries.
Every payload of the domain's buttons and of the load scripts, and malformed or unknown
ones, is parsed both ways with the trained model, in Rasa's environment.
"""

from __future__ import annotations

import json
import subprocess

import yaml

from akto_data.settings import PROJECT_ROOT
from stack.load.script import CONTACT, CYCLE, EXPLORE
from stack.model import ensure_model

RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"

COMPARE = r"""
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import rasa_components.serving as serving
serving.install()
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_components.serving import hot_path

texts = json.load(sys.stdin)
processor = Agent.load(os.environ["MODEL"]).processor
rasa_parse = hot_path.RASA_PARSE["parse_message_with_graph"]
from rasa.core.processor import MessageProcessor
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
pattern = YAMLStoryReader._regex_message_pattern()
out = {"compared": 0, "different": [], "shortcut": 0,
       "patched": MessageProcessor._parse_message_with_graph is not rasa_parse}
for text in texts:
    message = UserMessage(text, sender_id="payloads", message_id="m1")
    tracker = DialogueStateTracker.from_events("payloads", [])
    ours = processor._parse_message_with_graph(message, tracker)
    rasa = rasa_parse(processor, message, tracker)
    out["compared"] += 1
    match = pattern.match(text.strip())
    out["shortcut"] += bool(match and match.group("name").strip() in processor.domain.intents)
    if ours != rasa:
        out["different"].append({"text": text, "ours": ours, "rasa": rasa})
print(json.dumps(out))
"""


def domain_payloads() -> set[str]:
    payloads = set()
    for path in (PROJECT_ROOT / "domain").rglob("*.yml"):
        for variants in (yaml.safe_load(path.read_text()) or {}).get("responses", {}).values():
            for variant in variants:
                payloads.update(button["payload"] for button in variant.get("buttons") or [])
    return payloads


def test_a_button_payload_parses_as_the_whole_pipeline_parses_it():
    scripts = {step.message for script in (EXPLORE, CONTACT, CYCLE) for step in script.steps}
    buttons = domain_payloads() | {text for text in scripts if text.startswith("/")}
    assert len(buttons) > 30
    odd = ['/inform{"territory": "martinique", "age": "19"}', "/affirm@0.42", '/inform{"territory": martinique}',
           "/no_such_intent", '/no_such_intent{"territory": "martinique"}', "/", "/ greet", "/greet trailing words",
           '/inform{"lead_first_name":"Léa"} et du texte', "bonjour", "/start", "/inform{}", '/inform{"x": "y"}']
    run = subprocess.run([str(RASA_PYTHON), "-c", COMPARE], cwd=PROJECT_ROOT, capture_output=True, text=True,
                         timeout=600, input=json.dumps(sorted(buttons) + odd),
                         env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin", "MODEL": str(ensure_model())})
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["patched"] and out["different"] == []
    assert out["compared"] == len(buttons) + len(odd)
    assert out["shortcut"] >= len(buttons)  # every button took the short way (and some odd ones)
