"""Reading the examples of Rasa NLU files (``nlu/``, held-out sets) as plain text.

Shared by the content check (topic collisions) and ``make eval`` (training the
baseline, reading the held-out sets), so both see the same text for an example.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ANNOTATION = re.compile(r"\[([^\]]+)\](?:\(([^)]*)\)|(\{[^}]*\}))")


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    file: str
    #: (entity, value) pairs annotated in the example, value after synonym mapping.
    entities: tuple[tuple[str, str], ...] = field(default=())


def plain(example: str) -> str:
    """Text of an annotated example: ``g [19](age) ans`` -> ``g 19 ans``."""
    return ANNOTATION.sub(r"\1", example).strip()


def entity_annotations(example: str) -> tuple[tuple[str, str], ...]:
    """Entities of an annotated example: ``[gwada]{"entity": "territory", "value": "guadeloupe"}``
    gives ``("territory", "guadeloupe")``, ``[19](age)`` gives ``("age", "19")``."""
    found = []
    for match in ANNOTATION.finditer(example):
        surface, name, spec = match.groups()
        if spec:
            data = json.loads(spec)
            found.append((str(data["entity"]), str(data.get("value", surface))))
        else:
            found.append((name, surface))
    return tuple(found)


def read_examples(paths: list[Path]) -> list[Example]:
    examples = []
    for path in paths:
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            if "intent" not in block:
                continue
            for line in str(block.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    examples.append(Example(plain(line[2:]), block["intent"], path.name, entity_annotations(line[2:])))
    return examples
