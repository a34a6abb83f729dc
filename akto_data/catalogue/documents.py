"""The published content as one document set: ``{"faq.yml": {...}, "aids.yml": {...}, ...}``.

The same shape whether it comes from the YAML files (parsed) or from the staff console
(edited in memory): :func:`akto_data.catalogue.schema.check_documents` checks it, the
importer loads it into the tables, a content version stores it as JSON, and
:func:`dump_yaml` writes it back as files. Dates are ``date`` objects in memory and
ISO strings in JSON (:func:`to_json` / :func:`from_json`).

The private delivery settings (``content/private/cfa_delivery.yml``) are never part of
a document set: they are not versioned, shown, diffed nor exported.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from akto_data.catalogue.schema import PUBLIC_FILES

Documents = dict[str, Any]
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Kind:
    """A kind of entry staff edit one by one: where its list is and what identifies an entry."""

    name: str  # url part: "faq", "aides"...
    label: str  # "Réponses FAQ"
    singular: str  # "réponse FAQ"
    file: str  # "faq.yml"
    list_key: str | None  # "faq"; None: the whole document is one entry (the quiz)
    id_key: str  # "topic"
    title_key: str  # what the list shows

    def entries(self, documents: Documents) -> list[dict[str, Any]]:
        data = documents.get(self.file)
        if self.list_key is None:
            return [data[self.id_key]] if isinstance(data, dict) and isinstance(data.get(self.id_key), dict) else []
        rows = data.get(self.list_key) if isinstance(data, dict) else None
        return [row for row in rows or [] if isinstance(row, dict)]

    def key_of(self, entry: dict[str, Any]) -> str:
        return self.id_key if self.list_key is None else str(entry.get(self.id_key) or "")

    def find(self, documents: Documents, key: str) -> dict[str, Any] | None:
        return next((e for e in self.entries(documents) if self.key_of(e) == key), None)


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("faq", "Réponses FAQ", "réponse FAQ", "faq.yml", "faq", "topic", "topic"),
    Kind("aides", "Aides", "aide", "aids.yml", "aids", "id", "name"),
    Kind("metiers", "Métiers", "métier", "occupations.yml", "occupations", "rome", "name"),
    Kind("cfa", "CFA", "CFA", "cfas.yml", "cfas", "id", "name"),
    Kind("quiz", "Quiz", "quiz", "quiz.yml", None, "quiz", "quiz"),
)}


def to_json(value: Any) -> Any:
    """Plain JSON data: dates as ISO strings, mappings as plain dicts (key order kept)."""
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def from_json(value: Any) -> Any:
    """Back to what the YAML loader gives: ISO dates as ``date`` (content quotes no ISO date)."""
    if isinstance(value, dict):
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if isinstance(value, str) and ISO_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value


def digest(value: Any) -> str:
    """A short hash of an entry (or of a whole set), the same for equal content."""
    text = json.dumps(to_json(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def public_only(documents: Documents) -> Documents:
    """The publishable files, as plain data (a deep copy; no private file ever)."""
    return {name: copy.deepcopy(from_json(to_json(documents[name]))) for name in PUBLIC_FILES if name in documents}


def replace_entry(documents: Documents, kind: Kind, key: str | None, entry: dict[str, Any] | None) -> Documents:
    """A copy of ``documents`` where the entry ``key`` of ``kind`` is ``entry`` (added if new,
    removed if ``entry`` is None)."""
    result = copy.deepcopy(documents)
    data = result[kind.file]
    if kind.list_key is None:
        if entry is not None:
            data[kind.id_key] = entry
        return result
    rows: list[dict[str, Any]] = data[kind.list_key]
    index = next((i for i, row in enumerate(rows) if key is not None and kind.key_of(row) == key), None)
    if entry is None:
        if index is not None:
            del rows[index]
    elif index is None:
        rows.append(entry)
    else:
        rows[index] = entry
    return result


# -- readable differences ----------------------------------------------------------------
def _id_of(file: str, row: Any, index: int) -> str:
    for kind in KINDS.values():
        if kind.file == file and kind.list_key is not None and isinstance(row, dict):
            return str(row.get(kind.id_key) or f"#{index + 1}")
    if isinstance(row, dict):
        for key in ("id", "topic", "rome"):
            if row.get(key):
                return str(row[key])
    return f"#{index + 1}"


def _field_changes(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[dict[str, Any]] = []
        for key in list(before) + [k for k in after if k not in before]:
            out.extend(_field_changes(before.get(key), after.get(key), f"{path}.{key}" if path else str(key)))
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after) \
            and all(isinstance(v, dict) for v in before + after):
        out = []
        for index, (b, a) in enumerate(zip(before, after, strict=True)):
            out.extend(_field_changes(b, a, f"{path}[{index + 1}]"))
        return out
    return [{"path": path, "before": before, "after": after}]


def diff(before: Documents | None, after: Documents) -> list[dict[str, Any]]:
    """What changed, entry by entry: ``[{"file", "entry", "change", "fields": [{"path", "before", "after"}]}]``.

    Lists of entries (FAQ, aids, occupations, CFAs, territories) are compared by their
    id; anything else field by field.
    """
    old, new = to_json(before or {}), to_json(after)
    changes: list[dict[str, Any]] = []
    for file in PUBLIC_FILES:
        b, a = old.get(file), new.get(file)
        if b == a:
            continue
        if not isinstance(b, dict) or not isinstance(a, dict):
            changes.append({"file": file, "entry": "", "change": "ajouté" if b is None else "remplacé", "fields": []})
            continue
        for key in list(b) + [k for k in a if k not in b]:
            vb, va = b.get(key), a.get(key)
            if vb == va:
                continue
            if isinstance(vb, list) and isinstance(va, list) and all(isinstance(r, dict) for r in vb + va) \
                    and key not in ("grid", "smic"):
                rows_b = {_id_of(file, r, i): r for i, r in enumerate(vb)}
                rows_a = {_id_of(file, r, i): r for i, r in enumerate(va)}
                for entry in list(rows_b) + [e for e in rows_a if e not in rows_b]:
                    rb, ra = rows_b.get(entry), rows_a.get(entry)
                    if rb == ra:
                        continue
                    if rb is None:
                        changes.append({"file": file, "entry": entry, "change": "ajouté", "fields": []})
                    elif ra is None:
                        changes.append({"file": file, "entry": entry, "change": "supprimé", "fields": []})
                    else:
                        changes.append({"file": file, "entry": entry, "change": "modifié",
                                        "fields": _field_changes(rb, ra)})
                if [_id_of(file, r, i) for i, r in enumerate(vb)] != [_id_of(file, r, i) for i, r in enumerate(va)] \
                        and set(rows_b) == set(rows_a):
                    changes.append({"file": file, "entry": "", "change": "ordre changé", "fields": []})
            else:
                changes.append({"file": file, "entry": key, "change": "modifié", "fields": _field_changes(vb, va)})
    return changes


def word_diff(before: Any, after: Any) -> list[tuple[str, str]]:
    """Two values as pieces ``("same"|"del"|"ins", text)``, word by word for texts."""
    import difflib

    def words(value: Any) -> list[str]:
        text = "" if value is None else value if isinstance(value, str) else json.dumps(to_json(value), ensure_ascii=False)
        return re.findall(r"\S+\s*|\s+", text)

    old, new = words(before), words(after)
    pieces: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.append(("same", "".join(old[i1:i2])))
            continue
        if i2 > i1:
            pieces.append(("del", "".join(old[i1:i2])))
        if j2 > j1:
            pieces.append(("ins", "".join(new[j1:j2])))
    return pieces


def summarise(changes: list[dict[str, Any]]) -> str:
    """One line: "faq.yml ask_poec modifié ; aids.yml x ajouté"."""
    if not changes:
        return "aucun changement"
    parts = [f"{c['file']} {c['entry']} {c['change']}".replace("  ", " ") for c in changes[:6]]
    more = f" (+{len(changes) - 6})" if len(changes) > 6 else ""
    return " ; ".join(parts) + more


# -- YAML files --------------------------------------------------------------------------
class _Dumper(yaml.SafeDumper):
    """Block style, key order kept, accents as typed, long lines kept whole."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:  # a literal block, as typed (emoji stay emoji)
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _short(values: list[Any]) -> bool:
    """Scalars only, short enough to read on one line ({amount: 500, unit: once})."""
    return all(not isinstance(v, (dict, list)) and not (isinstance(v, str) and "\n" in v) for v in values) \
        and sum(len(str(v)) for v in values) <= 100


def _represent_dict(dumper: yaml.SafeDumper, value: dict[Any, Any]) -> yaml.MappingNode:
    flow = len(value) <= 6 and _short(list(value.values())) and all(len(str(v)) <= 80 for v in value.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=flow)


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.SequenceNode:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=bool(value) and _short(value))


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, _represent_list)


def dump_yaml(data: Any) -> str:
    return yaml.dump(to_plain(data), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000,
                     default_flow_style=False)


def to_plain(value: Any) -> Any:
    """Plain dicts and lists (the loader's line-aware mappings dropped), dates kept."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value


#: First lines of an exported file when the target has none of its own.
DEFAULT_HEADER = "# Exporté de la base (ce qui tourne). Modifier puis `make content-import`, ou éditer dans la console.\n"


def leading_comments(path: Path) -> str:
    """The comment block at the top of ``path`` (kept by an export), or the default one."""
    if not path.exists():
        return DEFAULT_HEADER
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if not line.startswith("#"):
            break
        lines.append(line)
    return "".join(lines) or DEFAULT_HEADER


def write_files(documents: Documents, directory: Path) -> list[Path]:
    """Write the public files of ``documents`` into ``directory`` (the private file never)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in PUBLIC_FILES:
        if name not in documents:
            continue
        path = directory / name
        text = leading_comments(path) + dump_yaml(documents[name])
        tmp = path.with_suffix(".yml.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        written.append(path)
    return written


def files_digest(directory: Path) -> str:
    """A hash of the content files of ``directory`` (public files and, if present, the delivery
    file), to tell at start whether ``content/`` changed since it was last imported."""
    from akto_data.catalogue.schema import EXAMPLE_DELIVERY, PRIVATE_DELIVERY

    sha = hashlib.sha256()
    for name in (*PUBLIC_FILES, PRIVATE_DELIVERY, EXAMPLE_DELIVERY):
        path = directory / name
        sha.update(name.encode() + b"\0")
        sha.update(path.read_bytes() if path.exists() else b"-")
    return sha.hexdigest()[:32]
