"""Reading the examples of Rasa NLU files (``nlu/``, held-out sets) as plain text.

Shared by the content check (topic collisions) and ``make eval`` (training the
baseline, reading the held-out sets), so both see the same text for an example.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    file: str


def plain(example: str) -> str:
    """Text of an annotated example: ``g [19](age) ans`` -> ``g 19 ans``."""
    return ANNOTATION.sub(r"\1", example).strip()


def read_examples(paths: list[Path]) -> list[Example]:
    examples = []
    for path in paths:
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            if "intent" not in block:
                continue
            for line in str(block.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    examples.append(Example(plain(line[2:]), block["intent"], path.name))
    return examples
