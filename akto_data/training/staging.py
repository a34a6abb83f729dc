"""Staged training data written by the console, reviewed in git later.

What staff decide in the inbox becomes Rasa data, never code:

- a message assigned to a topic is an example of that intent in ``nlu/staged/inbox.yml``;
- "hors sujet" makes it an ``out_of_scope`` example in the same file;
- a new FAQ topic writes its intent and button label (``domain/staged/inbox.yml``), its
  examples (``nlu/staged/inbox.yml``), its rule (``stories/staged/inbox.yml``: answer from
  the catalogue with ``action_answer_faq``, then 👍/👎), and its answer with source and
  dates published through the console's content path (a new content version; the
  database is what runs, ``make content-export`` writes ``content/faq.yml``).

The files live under the training tree (``TRAINING_DATA_DIR``, the project by default),
inside ``nlu/``, ``domain/`` and ``stories/``, so ``rasa train``, ``make model``'s cache key
and ``make content-check`` all see them. Held-out sentences (``tests/nlu/heldout*.yml``)
never enter training: an assignment whose text is one of them is refused, as
``tests/nlu/check_nlu_data.py`` would refuse it.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml
from filelock import FileLock
from sqlalchemy import select
from sqlalchemy.orm import Session

from akto_data.catalogue.check import normalise
from akto_data.catalogue.documents import KINDS
from akto_data.catalogue.editing import message
from akto_data.catalogue.importer import domain_topics
from akto_data.catalogue.publishing import EditConflict, NoVersion, PublishRefused, publish_entry
from akto_data.catalogue.schema import Checker, check_faq
from akto_data.models import UnansweredMessage, utcnow
from akto_data.nlu_examples import read_examples
from akto_data.settings import var_dir
from akto_data.staff.audit import record

NLU_FILE = Path("nlu/staged/inbox.yml")
DOMAIN_FILE = Path("domain/staged/inbox.yml")
STORIES_FILE = Path("stories/staged/inbox.yml")
HELDOUT_DIR = Path("tests/nlu")
OUT_OF_SCOPE = "out_of_scope"
#: Dismissed without training (personal details, noise): leaves the inbox, nothing written.
IGNORED = "ignored"
#: Intents that are no topic a message can be filed under.
NOT_ASSIGNABLE = {"nlu_fallback", "inform", OUT_OF_SCOPE}
TOPIC_NAME = re.compile(r"^[a-z][a-z0-9_]{2,47}$")
MIN_NEW_TOPIC_EXAMPLES = 3
LABEL_MAX = 30
#: Trigram similarity from which make content-check reports two topics' examples as colliding.
COLLISION = 0.85
HEADER = "# Written by the staff console (inbox). Review in git; never hand-edit while the console runs.\n"


class StagingError(ValueError):
    """A refused decision: one French message per form field at fault; nothing was written."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors


def _norm(text: str) -> str:
    return " ".join(text.lower().strip().split())


def _loose(text: str) -> str:
    """Same key as tests/nlu/check_nlu_data.py: no accents, no punctuation, no spaces."""
    t = unicodedata.normalize("NFKD", _norm(text))
    t = "".join(c for c in t if not unicodedata.combining(c))
    return re.sub(r"[^\w]+", "", t)


def _grams(text: str) -> set[str]:
    padded = f" {text} "
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


def example_text(text: str) -> str:
    """A logged message as a training example: one line, no annotation brackets."""
    return " ".join(re.sub(r"[\[\]{}]", " ", text).split())


@dataclass(frozen=True)
class TrainingTree:
    """The training data under ``root`` (the project, or a test's small copy)."""

    root: Path

    def yaml_files(self, folder: str) -> list[Path]:
        return sorted((self.root / folder).rglob("*.yml"))

    def domain_intents(self) -> set[str]:
        intents: set[str] = set()
        for path in self.yaml_files("domain"):
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            intents |= {i if isinstance(i, str) else next(iter(i)) for i in data.get("intents") or []}
        return intents

    def topic_labels(self) -> dict[str, str]:
        """Topics a message can be assigned to (intents with training examples), with their button label."""
        labels: dict[str, str] = {}
        for path in self.yaml_files("domain"):
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for name, variants in (data.get("responses") or {}).items():
                if name.startswith("utter_topic_") and variants:
                    labels[name.removeprefix("utter_topic_")] = str(variants[0].get("text", ""))
        intents = sorted({e.intent for e in self.training_examples()} - NOT_ASSIGNABLE)
        return {intent: labels.get(intent, intent) for intent in intents}

    def training_examples(self) -> list[Any]:
        return read_examples(self.yaml_files("nlu"))

    def heldout(self) -> dict[str, str]:
        """Loose key of every held-out sentence -> its file name."""
        found: dict[str, str] = {}
        for path in sorted((self.root / HELDOUT_DIR).glob("heldout*.yml")):
            for example in read_examples([path]):
                found.setdefault(_loose(example.text), path.name)
        return found


# -- files -----------------------------------------------------------------------------

def _write(path: Path, text: str) -> None:
    """Whole file or nothing (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _read(path: Path) -> dict[str, Any]:
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.exists() else {}


def _quote(text: str) -> str:
    return yaml.safe_dump(text, allow_unicode=True, default_style='"', width=10_000).strip()


def staged_examples(root: Path) -> dict[str, list[str]]:
    """Intent -> examples of the staged NLU file, in file order."""
    found: dict[str, list[str]] = {}
    if (root / NLU_FILE).exists():
        for example in read_examples([root / NLU_FILE]):
            found.setdefault(example.intent, []).append(example.text)
    return found


def _nlu_text(examples: dict[str, list[str]]) -> str:
    lines = [HEADER, 'version: "3.1"\n\nnlu:\n']
    for intent, texts in examples.items():
        lines.append(f"  - intent: {intent}\n    examples: |\n")
        lines.extend(f"      - {text}\n" for text in texts)
        lines.append("\n")
    return "".join(lines)


def _domain_text(topics: dict[str, str]) -> str:
    lines = [HEADER, 'version: "3.1"\n\nintents:\n']
    lines.extend(f"  - {name}\n" for name in topics)
    lines.append("\nresponses:\n")
    for name, label in topics.items():
        lines.append(f"  utter_topic_{name}:\n    - text: {_quote(label)}\n")
    return "".join(lines)


def _stories_text(topics: Iterable[str]) -> str:
    lines = [HEADER, 'version: "3.1"\n\nrules:\n']
    for name in topics:
        lines.append(f"  - rule: Answer {name} (FAQ topic created in the console)\n    steps:\n"
                     f"      - intent: {name}\n      - action: action_answer_faq\n      - action: utter_ask_feedback\n\n")
    return "".join(lines)


def staged_topics(root: Path) -> dict[str, str]:
    """New topics created in the console: intent -> button label."""
    data = _read(root / DOMAIN_FILE)
    responses = data.get("responses") or {}
    return {name: str((responses.get(f"utter_topic_{name}") or [{}])[0].get("text", name))
            for name in data.get("intents") or []}


def _lock() -> FileLock:
    path = var_dir() / "staged.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path), timeout=30)


# -- decisions -------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    topic: str
    added: int
    already: int


def _messages(session: Session, ids: list[int]) -> list[UnansweredMessage]:
    rows = list(session.scalars(select(UnansweredMessage).where(UnansweredMessage.id.in_(ids),
                                                                UnansweredMessage.handled_as.is_(None))
                                 .order_by(UnansweredMessage.id)))
    if not rows:
        raise StagingError({"messages": "Choisis au moins un message encore dans la boîte."})
    return rows


def _check_texts(tree: TrainingTree, topic: str, texts: list[str], field: str) -> tuple[list[str], int]:
    """Texts to add (held-out refused, duplicates of the same topic skipped, of another refused)."""
    heldout = tree.heldout()
    training = tree.training_examples()
    existing = {_norm(e.text): e.intent for e in training}
    # make content-check refuses near-copies across topics (collisions): same rule here.
    others = [(g, e.intent, e.text) for e in training
              if e.intent != topic and len(normalise(e.text)) >= 12 for g in [_grams(normalise(e.text))]]
    new: list[str] = []
    already = 0
    for text in texts:
        if not text:
            continue
        if _loose(text) in heldout:
            raise StagingError({field: f"« {text} » est une phrase des jeux de test mis de côté "
                                       f"({heldout[_loose(text)]}) : elle ne doit jamais servir à l'entraînement. "
                                       "Rien n'a été enregistré ; marque-la hors sujet ou laisse-la."})
        other = existing.get(_norm(text))
        if other is not None and other != topic:
            raise StagingError({field: f"« {text} » est déjà un exemple du sujet {other} : un même message ne peut "
                                       "pas enseigner deux sujets. Rien n'a été enregistré."})
        if other is None and len(normalise(text)) >= 12:
            grams = _grams(normalise(text))
            close = next((x for x in others if len(grams & x[0]) / len(grams | x[0]) >= COLLISION), None)
            if close is not None:
                raise StagingError({field: f"« {text} » ressemble trop à « {close[2]} », exemple du sujet {close[1]} : "
                                           "l'assistant ne pourrait plus les distinguer. Rien n'a été enregistré."})
        if other == topic or _norm(text) in {_norm(t) for t in new}:
            already += 1
            continue
        new.append(text)
    return new, already


def assign(session: Session, root: Path, ids: list[int], topic: str, actor: str) -> Outcome:
    """File messages under ``topic`` (or ``out_of_scope``): staged examples, messages leave the inbox."""
    tree = TrainingTree(root)
    if topic not in (OUT_OF_SCOPE, IGNORED) and topic not in tree.topic_labels():
        raise StagingError({"topic": "Choisis un sujet de la liste."})
    rows = _messages(session, ids)
    with _lock():
        new, already = ([], 0) if topic == IGNORED else \
            _check_texts(tree, topic, [example_text(r.text) for r in rows], "topic")
        now = utcnow()
        for row in rows:
            row.handled_as, row.handled_by, row.handled_at = topic, actor, now
        action = {OUT_OF_SCOPE: "inbox.out_of_scope", IGNORED: "inbox.ignore"}.get(topic, "inbox.assign")
        record(session, actor, action, f"intent:{topic}",
               None, {"messages": sorted(r.id for r in rows), "examples_added": len(new)})
        session.flush()
        if new:
            examples = staged_examples(root)
            examples.setdefault(topic, []).extend(new)
            _write(root / NLU_FILE, _nlu_text(examples))
    return Outcome(topic, len(new), already)


@dataclass
class NewTopic:
    name: str = ""
    label: str = ""
    answer: str = ""
    source: str = ""
    examples: str = ""  # more examples, one per line


def create_topic(session: Session, root: Path, ids: list[int], form: NewTopic, actor: str,
                 today: date | None = None) -> Outcome:
    """A new FAQ topic from inbox messages: intent, examples, rule, label and answer, as data."""
    tree = TrainingTree(root)
    today = today or date.today()
    errors: dict[str, str] = {}
    name = form.name.strip()
    if not TOPIC_NAME.match(name):
        errors["name"] = "Nom du sujet : minuscules, chiffres et « _ », 3 à 48 caractères, ex. ask_permis_bateau."
    elif name in tree.domain_intents():
        errors["name"] = f"Le sujet {name} existe déjà : affecte plutôt les messages à ce sujet."
    label = form.label.strip()
    if not label:
        errors["label"] = "Écris le texte du bouton « Tu voulais dire … ? »."
    elif len(label) > LABEL_MAX:
        errors["label"] = f"Texte du bouton trop long ({len(label)} caractères) : {LABEL_MAX} au plus."
    entry = {"topic": name, "answer": form.answer.strip(), "source": form.source.strip(), "verified_on": today,
             "review_on": today + timedelta(days=365)}
    checker = Checker("faq.yml")
    check_faq({"faq": [entry]}, checker, set())
    for error in checker.errors:
        key = error.field if error.field in ("answer", "source") else "answer"
        errors.setdefault(key, f"{error.problem} → {error.fix}")
    rows = _messages(session, ids) if ids else []
    texts = [example_text(r.text) for r in rows] + [example_text(line) for line in form.examples.splitlines()]
    new: list[str] = []
    try:
        new, _ = _check_texts(tree, name, texts, "examples")
    except StagingError as exc:
        errors.update(exc.errors)
    if "examples" not in errors and len(new) < MIN_NEW_TOPIC_EXAMPLES:
        errors["examples"] = (f"Il faut au moins {MIN_NEW_TOPIC_EXAMPLES} exemples différents (messages choisis "
                              "et lignes ajoutées) pour apprendre un sujet.")
    if errors:
        raise StagingError(errors)
    with _lock():
        now = utcnow()
        for row in rows:
            row.handled_as, row.handled_by, row.handled_at = name, actor, now
        # The answer goes through the content path: checked by the content schema, published
        # as a new numbered content version (the database is what runs; make content-export
        # writes it back to content/faq.yml).
        try:
            publish_entry(session, KINDS["faq"], None, entry, base_hash="", base_version=None, author=actor,
                          summary=f"Nouveau sujet {name} (boîte des messages non compris)",
                          topics=domain_topics() | tree.domain_intents() | {name})
        except PublishRefused as exc:
            raise StagingError({(e.field if e.field in ("answer", "source") else "answer"): message(e)
                                for e in exc.errors}) from exc
        except EditConflict as exc:
            raise StagingError({"name": f"Une réponse existe déjà pour {name} dans le catalogue."}) from exc
        except NoVersion as exc:
            raise StagingError({"answer": f"Catalogue vide ({exc}) : rien n'a été enregistré."}) from exc
        record(session, actor, "inbox.new_topic", f"intent:{name}", None,
               {"label": label, "messages": sorted(r.id for r in rows), "examples_added": len(new)})
        session.flush()
        topics = staged_topics(root)
        topics[name] = label
        examples = staged_examples(root)
        examples.setdefault(name, []).extend(new)
        _write(root / DOMAIN_FILE, _domain_text(topics))
        _write(root / STORIES_FILE, _stories_text(topics))
        _write(root / NLU_FILE, _nlu_text(examples))
    return Outcome(name, len(new), 0)
