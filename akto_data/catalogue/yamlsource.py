"""YAML reading that remembers line numbers, so errors can point staff to the line."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any

import yaml


class LineDict(dict):
    """A mapping that knows the line (1-based) it starts on in its file."""

    line: int = 0


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    mapping = LineDict(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass(frozen=True)
class ContentError:
    """One problem in a content file, worded for the staff member who edits it."""

    file: str
    line: int
    entry: str
    problem: str
    fix: str
    #: The key at fault inside the entry (``"review_on"``), for forms that show the message next to it.
    field: str = dc_field(default="", compare=False)
    #: ``id()`` of the mapping at fault, so a form can tell which row of a table it is.
    node_id: int = dc_field(default=0, compare=False, repr=False)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        entry = f" [{self.entry}]" if self.entry else ""
        return f"{where}{entry} : {self.problem} → {self.fix}"


class ContentFileError(Exception):
    def __init__(self, errors: list[ContentError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


def read(path: Path) -> Any:
    """Parse ``path``; a syntax error becomes a :class:`ContentFileError` with its line."""
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise ContentFileError([ContentError(
            path.name, (mark.line + 1) if mark else 0, "", f"YAML illisible ({exc.problem})",
            "vérifier l'indentation (2 espaces), les guillemets et les deux-points à cette ligne",
        )]) from exc
    except FileNotFoundError as exc:
        raise ContentFileError([ContentError(path.name, 0, "", "fichier absent", f"créer {path}")]) from exc
