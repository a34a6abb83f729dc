"""Edit forms of the staff console: what each kind of entry shows, and a form read back
into an entry of the same shape as the YAML file.

The form is only a way to type an entry: the checks are the YAML import's
(:func:`akto_data.catalogue.schema.check_documents` on the whole document set with the
edited entry in it), and their French messages are placed next to the field they name
(:func:`field_errors`). Keys the form does not show are kept as they were, in their
order, so an edit changes only what was typed.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from akto_data.catalogue.documents import Documents, Kind, replace_entry
from akto_data.catalogue.schema import (
    AID_TOPICS,
    HOME_TERRITORIES,
    INTEREST_TAGS,
    NEEDS,
    STATUSES,
    TERRITORIES,
    UNITS,
    WHO_TO_ASK,
    check_documents,
)
from akto_data.catalogue.yamlsource import ContentError

Form = Mapping[str, list[str]]


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    type: str = "text"  # text textarea date bool int number select multi list table group tags reasons
    options: tuple[str, ...] = ()
    fields: tuple[Field, ...] = ()  # of a table row or a group
    optional: bool = False  # left empty: the key is not written (unless the entry had it)
    help: str = ""
    identity: bool = False  # the entry's id: typed for a new entry, fixed afterwards


SOURCED = (
    Field("source", "Source (texte, site, date)"),
    Field("verified_on", "Vérifié le", "date"),
    Field("review_on", "À revérifier le", "date"),
    Field("to_verify", "Une seule source : à confirmer", "bool", optional=True),
)

FORMS: dict[str, tuple[Field, ...]] = {
    "faq": (
        Field("topic", "Sujet (intention Rasa)", "select", identity=True),
        Field("answer", "Réponse (courte, en « tu »)", "textarea"),
        *SOURCED,
    ),
    "aides": (
        Field("id", "Identifiant (minuscules_et_tirets_bas)", identity=True),
        Field("name", "Nom"),
        Field("topic", "Sujet", "select", AID_TOPICS),
        Field("summary", "Résumé", "textarea"),
        Field("how_to_apply", "Comment la demander", "textarea"),
        Field("who_to_ask", "À qui s'adresser", "select", WHO_TO_ASK),
        Field("eligibility", "Conditions", "group", optional=True, fields=(
            Field("status", "Statut", "multi", STATUSES, optional=True),
            Field("territories", "Territoires", "multi", HOME_TERRITORIES, optional=True),
            Field("destinations", "Destinations", "multi", ("hexagone", "other_overseas"), optional=True),
            Field("needs", "Besoins", "multi", NEEDS, optional=True),
            Field("company_size", "Taille d'entreprise", "select", ("", "under_250", "from_250"), optional=True),
            Field("min_age", "Âge minimum", "int", optional=True),
            Field("min_age_jobseeker", "Âge minimum d'un demandeur d'emploi (s'il diffère)", "int", optional=True),
            Field("max_age", "Âge maximum", "int", optional=True),
            Field("notes", "Précisions", "textarea", optional=True),
        )),
        Field("amounts", "Montants par période (une période finie a une date de fin)", "table", fields=(
            Field("start", "Début", "date"),
            Field("end", "Fin (vide : en cours)", "date"),
            Field("items", "Montants", "table", fields=(
                Field("amount", "Montant (€)", "number"),
                Field("unit", "Unité", "select", UNITS),
                Field("condition", "Condition", optional=True),
            )),
        )),
        Field("cumulates_with", "Cumulable avec (ids d'aides, séparés par des virgules)", "list", optional=True),
        *SOURCED,
    ),
    "metiers": (
        Field("rome", "Code ROME (ex. K2503)", identity=True),
        Field("name", "Nom"),
        Field("what_you_do", "Ce que tu fais", "textarea"),
        Field("where", "Où tu travailles", "textarea"),
        Field("qualities", "Qualités (séparées par des virgules)", "list"),
        Field("interests", "Centres d'intérêt du quiz", "multi", INTEREST_TAGS),
        Field("diplomas", "Diplômes", "table", fields=(
            Field("name", "Diplôme"),
            Field("level", "Niveau (3 à 7)", "int"),
        )),
        Field("recruits", "Recrute (par territoire, avec sa source)", "table", optional=True, fields=(
            Field("territory", "Territoire", "select", TERRITORIES),
            Field("recruits", "Recrute", "bool"),
            Field("source", "Source"),
            Field("year", "Année", "int"),
            Field("to_verify", "À confirmer", "bool", optional=True),
        )),
    ),
    "cfa": (
        Field("id", "Identifiant (ex. mq_umih)", identity=True),
        Field("name", "Nom"),
        Field("town", "Commune"),
        Field("territory", "Territoire", "select", HOME_TERRITORIES),
        Field("trainings", "Formations", "table", fields=(
            Field("rome", "Code ROME"),
            Field("diploma", "Diplôme préparé"),
            Field("level", "Niveau (3 à 7)", "int"),
        )),
        *SOURCED,
    ),
    "quiz": (
        Field("questions", "Questions (8 à 12)", "table", fields=(
            Field("id", "Id"),
            Field("text", "Question"),
            Field("answers", "Réponses (2 à 4 ; étiquette de 30 caractères au plus)", "table", fields=(
                Field("label", "Bouton"),
                Field("tags", "Points (ex. nature:2, exterieur:1)", "tags"),
            )),
        )),
        Field("reasons", "Explications des résultats (« Tu … »)", "reasons", INTEREST_TAGS),
    ),
}


# -- values shown in the form -------------------------------------------------------------------------------------
def shown(value: Any, field: Field) -> Any:
    """What an input shows for ``value``."""
    if value is None:
        return [] if field.type == "multi" else ""
    if field.type == "multi":
        return list(value) if isinstance(value, list) else [value]
    if field.type == "list":
        return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    if field.type == "tags":
        return ", ".join(f"{k}:{v}" for k, v in value.items()) if isinstance(value, dict) else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


# -- reading a form back ------------------------------------------------------------------------------------------
def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {} or value is False


def _one(form: Form, name: str) -> str:
    values = form.get(name) or [""]
    return str(values[-1]).replace("\r\n", "\n").strip()


def _indices(form: Form, prefix: str) -> list[int]:
    found = set()
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.")
    for name in form:
        match = pattern.match(name)
        if match:
            found.add(int(match.group(1)))
    return sorted(found)


def _scalar(field: Field, raw: str, path: str, errors: dict[str, list[str]]) -> Any:
    if field.type == "date":
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            errors.setdefault(path, []).append("date invalide → AAAA-MM-JJ, ex. 2026-11-20")
            return raw
    if field.type == "int":
        if not raw:
            return None
        try:
            return int(raw)
        except ValueError:
            errors.setdefault(path, []).append("nombre entier attendu → ex. 2025")
            return raw
    if field.type == "number":
        if not raw:
            return None
        try:
            number = float(raw.replace(",", ".").replace("\u00a0", "").replace(" ", ""))
        except ValueError:
            errors.setdefault(path, []).append("montant invalide → un nombre en euros, ex. 500")
            return raw
        return int(number) if number.is_integer() else number
    return raw


def _read(fields: tuple[Field, ...], form: Form, prefix: str, original: dict[str, Any] | None,
          errors: dict[str, list[str]]) -> dict[str, Any]:
    entry: dict[str, Any] = copy.deepcopy(dict(original)) if original else {}
    for field in fields:
        path = f"{prefix}{field.key}"
        value: Any
        if field.type == "bool":
            value = _one(form, path) in ("1", "on", "true")
        elif field.type == "multi":
            value = [v for v in form.get(path) or [] if v]
        elif field.type == "list":
            value = [part.strip() for part in _one(form, path).split(",") if part.strip()]
        elif field.type == "tags":
            value = {}
            for part in filter(None, (p.strip() for p in _one(form, path).split(","))):
                tag, _, points = part.partition(":")
                try:
                    value[tag.strip()] = int(points.strip())
                except ValueError:
                    errors.setdefault(path, []).append(f"« {part} » illisible → tag:points, ex. nature:2")
        elif field.type == "reasons":
            value = {tag: _one(form, f"{path}.{tag}") for tag in field.options if _one(form, f"{path}.{tag}")}
        elif field.type == "group":
            before = (original or {}).get(field.key)
            value = _read(field.fields, form, f"{path}.", before if isinstance(before, dict) else None, errors)
        elif field.type == "table":
            before_rows = (original or {}).get(field.key)
            before_rows = before_rows if isinstance(before_rows, list) else []
            value = []
            for index in _indices(form, path):
                if _one(form, f"{path}.{index}._delete"):
                    continue
                before = before_rows[index] if index < len(before_rows) and isinstance(before_rows[index], dict) else None
                row = _read(field.fields, form, f"{path}.{index}.", before, errors)
                if any(not _empty(row.get(f.key)) for f in field.fields):
                    value.append(row)
        else:
            value = _scalar(field, _one(form, path), path, errors)
        if _empty(value) and field.optional and field.key not in (original or {}):
            entry.pop(field.key, None)
            continue
        if field.type == "select" and value == "":
            value = None if field.optional else ""
        entry[field.key] = value
    return entry


def read_form(kind: Kind, form: Form, original: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The entry typed in the form (kept keys of ``original`` it does not show), and the
    fields that could not be read (bad date, not a number)."""
    errors: dict[str, list[str]] = {}
    entry = _read(FORMS[kind.name], form, "", original, errors)
    return entry, errors


# -- checks next to the fields ------------------------------------------------------------------------------------
def _paths(node: Any, prefix: str, found: dict[int, str]) -> None:
    if isinstance(node, dict):
        found[id(node)] = prefix
        for key, value in node.items():
            if isinstance(value, dict):
                _paths(value, f"{prefix}{key}.", found)
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    _paths(item, f"{prefix}{key}.{index}.", found)


def message(error: ContentError) -> str:
    return f"{error.problem} → {error.fix}"


def field_errors(documents: Documents, kind: Kind, key: str | None, entry: dict[str, Any],
                 topics: set[str] | None, errors: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """Run the YAML checks on ``documents`` with ``entry`` in place of ``key``; messages by form field.

    Messages about the entry go under the field they name (``"amounts.0.end"``), or
    ``""`` (the entry as a whole); those about other entries or files go under ``"*"``
    with the file and entry named (a removal breaking a reference, say).
    """
    placed: dict[str, list[str]] = {k: list(v) for k, v in (errors or {}).items()}
    draft = replace_entry(documents, kind, key, entry)
    _catalogue, problems = check_documents(draft, topics, None)
    where: dict[int, str] = {}
    _paths(entry, "", where)
    for problem in problems:
        prefix = where.get(problem.node_id)
        if prefix is None:
            placed.setdefault("*", []).append(f"{problem.file} [{problem.entry}] : {message(problem)}")
            continue
        path = f"{prefix}{problem.field}" if problem.field else prefix.rstrip(".")
        if path in placed and (errors or {}).get(path):
            continue  # already said by the form (bad date...)
        placed.setdefault(path, []).append(message(problem))
    return placed
