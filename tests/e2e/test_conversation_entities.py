"""The entities written in the conversation tests are really extracted.

``rasa test core`` (Rasa 3.6) checks the intents and actions of ``tests/conversations``
but not the ``entities:`` of a user step: a wrong value there passed silently. This
sends each such message to the running model and compares the values slots would get.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

CONVERSATIONS = Path(__file__).resolve().parents[1] / "conversations"


def annotated_steps() -> list[tuple[str, str, list[tuple[str, str]]]]:
    steps = []
    for path in sorted(CONVERSATIONS.glob("*.yml")):
        for story in yaml.safe_load(path.read_text(encoding="utf-8")).get("stories", []):
            for step in story["steps"]:
                if "user" in step and step.get("entities"):
                    expected = [(name, str(value)) for entity in step["entities"] for name, value in entity.items()]
                    steps.append((story["story"], step["user"].strip(), expected))
    return steps


STEPS = annotated_steps()


def test_the_conversation_tests_annotate_entities() -> None:
    assert len(STEPS) >= 3


@pytest.mark.parametrize(("story", "text", "expected"), STEPS, ids=[text for _, text, _ in STEPS])
def test_annotated_entities_are_extracted(rasa_stack, base_settings, story: str, text: str,
                                          expected: list[tuple[str, str]]) -> None:
    parsed = httpx.post(f"{base_settings.rasa_url}/model/parse", json={"text": text}, timeout=30,
                        params={"token": base_settings.rasa_auth_token}).json()
    found = sorted((entity["entity"], str(entity["value"])) for entity in parsed["entities"])
    assert found == sorted(expected), f"{story}: {text!r}"
