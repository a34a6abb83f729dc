"""Serving-time speed-ups of the Rasa server (issue 14, the hot path).

Every change here is measured: the before/after figures are in the README
("Measured") and were taken with ``make load`` / a CPU-per-message driver. Each patch
keeps Rasa's observable behaviour (same answers, same errors) and only removes work
that was repeated for nothing on every message. Runs inside the Rasa server
(Python 3.10, Rasa 3.6.21), installed by :func:`rasa_components.serving.install`
before Rasa's main; a plain ``rasa run`` does not get it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import re
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

_installed = False


def install() -> None:
    """Install every hot-path patch once (idempotent: the launcher may call it twice)."""
    global _installed
    if _installed:
        return
    import os

    # For before/after measurements only: HOT_PATH_OFF=validator,interpolation leaves those out
    # (names: validator, interpolation, trackers, sqlite, payloads, history).
    off = set(os.environ.get("HOT_PATH_OFF", "").split(","))
    if "validator" not in off:
        _when_imported("rasa.core.actions.action", _install_action_validator)
    if "interpolation" not in off:
        _when_imported("rasa.core.nlg.interpolator", _install_quiet_payload_interpolation)
    if "trackers" not in off:
        _when_imported("rasa.core.tracker_store", _install_tracker_cache)
    if "sqlite" not in off:
        _when_imported("rasa.core.tracker_store", _install_sqlite_connections)
    if "payloads" not in off:
        _when_imported("rasa.core.processor", _install_payload_parse)
    if "history" not in off:
        from rasa_components.serving import history

        for name, patch in history.patches():
            _when_imported(name, patch)
    _installed = True


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs a patch right after a module is first imported.

    Why not import Rasa's modules in :func:`install`: that runs before Rasa's main, and
    importing ``rasa.core`` there would load TensorFlow before Rasa configures its
    environment and logging. Patching when Rasa itself imports the module changes
    nothing in Rasa's start-up order.
    """

    def __init__(self) -> None:
        self.patches: dict[str, list[Callable[[ModuleType], None]]] = {}

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if name not in self.patches:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        original_exec = spec.loader.exec_module  # type: ignore[union-attr]
        patches = self.patches.pop(name)

        def exec_module(module: ModuleType) -> None:
            original_exec(module)
            for patch in patches:
                patch(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign, union-attr]
        return spec


_after_import = _AfterImport()


def _when_imported(name: str, patch: Callable[[ModuleType], None]) -> None:
    """Apply ``patch`` to module ``name`` now if it is loaded, else right after Rasa imports it."""
    module = sys.modules.get(name)
    if module is not None:
        patch(module)
        return
    _after_import.patches.setdefault(name, []).append(patch)
    if _after_import not in sys.meta_path:
        sys.meta_path.insert(0, _after_import)


# -- 1. the action server's response, validated by a validator built once ------------------------------------------
#
# Why: Rasa 3.6's ``RemoteAction._validate_action_result`` calls ``jsonschema.validate``
# on every custom action response. That function first checks the *schema itself*
# against its meta-schema (``check_schema``), then builds a new validator, on every
# call; with Rasa's large EVENTS_SCHEMA that was about half of the Rasa process's CPU
# under load (issue 14's profile). The schema is a constant, so it is checked once and
# its validator is kept. The instance is still fully validated, and a malformed
# response raises the same ``jsonschema.ValidationError`` (the same best-matching
# error, with the same text appended) as before, so Rasa refuses it exactly as it did.

_validators: dict[type, Any] = {}


def _validator_for(action_class: type) -> Any:
    """The validator of ``action_class``'s response schema, its schema checked once."""
    validator = _validators.get(action_class)
    if validator is None:
        from jsonschema.validators import validator_for

        schema = action_class.action_response_format_spec()  # type: ignore[attr-defined]
        cls = validator_for(schema)
        cls.check_schema(schema)  # what jsonschema.validate did on every call, done once
        validator = _validators[action_class] = cls(schema)
    return validator


def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    """Rasa's ``RemoteAction._validate_action_result`` with the validator built once."""
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    error = best_match(_validator_for(type(self)).iter_errors(result))  # what jsonschema.validate raises
    if error is None:
        return True
    assert isinstance(error, ValidationError)
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


def _install_action_validator(module: ModuleType) -> None:
    module.RemoteAction._validate_action_result = _validate_action_result


# -- 2. button payloads with entities are not slot placeholders -----------------------------------------------------
#
# Why: Rasa fills ``{slot}`` placeholders in every string of a response, buttons
# included. A button payload carrying entities, ``/inform{"territory": "martinique"}``,
# looks like a placeholder named ``"territory": "martinique"``: ``str.format`` raises
# KeyError, and Rasa logs it with ``structlogger.exception`` (a rendered traceback,
# then our log filter masking contacts in it) and returns the text unchanged. Every
# question asked with entity buttons did that: about a tenth of the Rasa process's
# CPU, and an ERROR line in Rasa's log that was a false alarm. Such a text is now
# returned unchanged straight away, as Rasa would have returned it; a placeholder
# that could be a slot name still goes through Rasa's own code (and its error log).

_JSON_KEY = '"'


_rasa_interpolate_text: Callable[[str, dict[str, str]], str] | None = None  # Rasa's own, kept for the test
_PLACEHOLDER = re.compile(r"{([^\n{}]+?)}")  # Rasa's own pattern (interpolator.interpolate_text)


def _interpolate_text(response: str, values: dict[str, str]) -> str:
    """Rasa's ``interpolate_text``, without the false error for entity payloads."""
    if "{" not in response and "}" not in response:
        return response  # nothing to fill: Rasa's format() returns it as is
    if any(_JSON_KEY in key and key not in values for key in _PLACEHOLDER.findall(response)):
        # Rasa: KeyError at the first missing key, then the response unchanged. A quoted
        # key is JSON (an entity payload), never a slot or a keyword argument's name.
        return response
    assert _rasa_interpolate_text is not None
    return _rasa_interpolate_text(response, values)


def _install_quiet_payload_interpolation(module: ModuleType) -> None:
    global _rasa_interpolate_text
    _rasa_interpolate_text = module.interpolate_text
    module.interpolate_text = _interpolate_text  # looked up at call time by interpolate()


# -- 3. a conversation kept in memory between its messages, checked against the database -------------------------------
#
# Why: for every message Rasa's SQL tracker store reads every event of the conversation's
# session back (JSON-decoded, then replayed one by one into a new tracker), so each message
# of a long conversation cost more than the one before. Here the tracker a server built is
# kept, and the next read of that conversation asks the database only for the events
# stored since (``id >`` the last one seen, on the sender's index):
# - none, and nothing was added in memory: the kept tracker is the stored one;
# - exactly the events this server added in memory and then saved (same JSON as stored):
#   the kept tracker is the stored one;
# - events stored by another server (several Rasa servers share the database) or the API:
#   they are applied to the kept tracker, in order, as a fresh read would replay them;
# - anything else (a message that failed before its save left unsaved events in memory, a
#   new session started, a new model's domain, a mismatch): the tracker is read from the
#   database as Rasa does.
# The database stays the truth; the Redis lock store lets one server at a time handle a
# conversation, so events are stored in id order. The memory used is bounded (_MAX_EVENTS).

_MAX_EVENTS = 20_000  # events kept, all conversations together (the least recently used go first)


class _Kept:
    __slots__ = ("tracker", "last_id", "known", "domain")

    def __init__(self, tracker: Any, last_id: int, known: int, domain: Any) -> None:
        self.tracker = tracker
        self.domain = domain  # a new model (PUT /model) may bring other slots: read again then
        self.last_id = last_id  # the id of the last stored event the tracker holds
        self.known = known  # how many of its events are stored (the rest were added in memory)


def _as_stored(event: Any) -> Any:
    import json

    return json.loads(json.dumps(event.as_dict()))  # what SQLTrackerStore.save writes, read back


def _caught_up(kept: _Kept, rows: list[Any]) -> Any:
    """The kept tracker brought to the stored events ``rows`` (stored after it), or None."""
    import json

    from rasa.shared.core.events import SessionStarted, deserialise_events

    tracker = kept.tracker
    added = list(tracker.events)[kept.known:]
    if len(added) > len(rows) or any(row.type_name == SessionStarted.type_name for row in rows):
        return None
    for event, row in zip(added, rows):
        if _as_stored(event) != json.loads(row.data):
            return None
    rest = rows[len(added):]
    if rest:
        model_id, assistant_id = tracker.model_id, tracker.assistant_id
        tracker.model_id = tracker.assistant_id = None  # as in a fresh read: events keep their own metadata
        try:
            for event in deserialise_events([json.loads(row.data) for row in rest]):
                tracker.update(event)
        finally:
            tracker.model_id, tracker.assistant_id = model_id, assistant_id
    if rows:
        kept.last_id = rows[-1].id
    kept.known = len(tracker.events)
    return tracker


def _install_tracker_cache(module: ModuleType) -> None:
    import itertools
    import json
    from collections import OrderedDict

    from rasa.shared.core.trackers import DialogueStateTracker
    from sqlalchemy import bindparam, select

    store_class = module.SQLTrackerStore
    rasa_retrieve = store_class._retrieve
    statements: dict[Any, Any] = {}

    def since_statement(event_class: Any) -> Any:
        """The events of a conversation stored after an id, built once (an ORM query is rebuilt
        at each call, a few hundred microseconds of the Rasa server's event loop)."""
        statement = statements.get(event_class)
        if statement is None:
            statement = statements[event_class] = (
                select(event_class.id, event_class.type_name, event_class.data)
                .where(event_class.sender_id == bindparam("sender"), event_class.id > bindparam("after"))
                .order_by(event_class.id))
        return statement

    kept_trackers: OrderedDict[tuple[int, str], _Kept] = OrderedDict()

    def keep(key: tuple[int, str], kept: _Kept) -> None:
        kept_trackers[key] = kept
        kept_trackers.move_to_end(key)
        total = sum(k.known for k in kept_trackers.values())
        while total > _MAX_EVENTS and len(kept_trackers) > 1:
            _, dropped = kept_trackers.popitem(last=False)
            total -= dropped.known

    async def _retrieve(self: Any, sender_id: str, fetch_events_from_all_sessions: bool) -> Any:
        if fetch_events_from_all_sessions or not self.domain:
            return await rasa_retrieve(self, sender_id, fetch_events_from_all_sessions)
        key = (id(self), sender_id)
        kept = kept_trackers.pop(key, None)
        event_class = self.SQLEvent
        with self.session_scope() as session:
            if kept is not None and kept.domain is self.domain:
                rows = session.execute(since_statement(event_class),
                                       {"sender": sender_id, "after": kept.last_id}).all()
                tracker = _caught_up(kept, rows)
                if tracker is not None:
                    keep(key, kept)
                    return tracker
            # Rasa's own read (SQLTrackerStore._retrieve), with the events' ids.
            rows = (self._event_query(session, sender_id, fetch_events_from_all_sessions=False)
                    .with_entities(event_class.id, event_class.data).all())
        if not rows:
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, [json.loads(row.data) for row in rows],
                                                 self.domain.slots)
        keep(key, _Kept(tracker, rows[-1].id, len(tracker.events), self.domain))
        return tracker

    rasa_additional_events = store_class._additional_events

    def _additional_events(self: Any, session: Any, tracker: Any) -> Any:
        """The events to save: Rasa counts the session's stored events each time; a kept
        tracker knows how many of its events are stored (checked at its read, and the
        conversation's lock keeps other writers out until this save)."""
        kept = kept_trackers.get((id(self), tracker.sender_id))
        if kept is not None and kept.tracker is tracker and kept.domain is self.domain:
            return itertools.islice(tracker.events, kept.known, len(tracker.events))
        return rasa_additional_events(self, session, tracker)

    store_class._retrieve = _retrieve
    store_class._additional_events = _additional_events


# -- 4. the embedded tracker store keeps its SQLite connection ---------------------------------------------------------
#
# Why: Rasa 3.6's SQLAlchemy 1.4 gives a SQLite file a NullPool: every read and every save
# of a conversation opened the database file again (and read its schema), and every save's
# commit waited for the disk (SQLite's default ``synchronous=FULL``). The embedded default
# keeps Rasa's conversations in the product's SQLite file, already in WAL mode (akto_data.db).
# Rasa's connections are now pooled and use ``synchronous=NORMAL``, which SQLite documents as
# safe in WAL mode: a process crash loses nothing; a power cut may lose the last commits of
# the conversation history, never corrupt it (leads, consents and the catalogue are written
# by the app's own connections, which keep ``FULL``). ``busy_timeout`` as the app uses it.


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _install_sqlite_connections(module: ModuleType) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import QueuePool

    rasa_kwargs = module.create_engine_kwargs

    def create_engine_kwargs(url: Any) -> dict[str, Any]:
        kwargs = dict(rasa_kwargs(url))
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            # Rasa runs its tracker store on its event loop's thread; the pool may hand a
            # connection to another thread only after it was returned (SQLAlchemy 2's default).
            kwargs.update(poolclass=QueuePool, connect_args={"check_same_thread": False})
        return kwargs

    module.create_engine_kwargs = create_engine_kwargs
    store_class = module.SQLTrackerStore
    rasa_init = store_class.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        rasa_init(self, *args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            self.engine.dispose()  # the connection that created the tables had no pragmas

    store_class.__init__ = init


# -- 5. a button payload is not run through the language models ------------------------------------------------------
#
# Why: a button sends its payload, ``/inform{"lead_start": "rentree"}``: the intent and
# entities are in the text. Rasa 3.6 still runs the whole NLU pipeline on it (tokenizer,
# featurizers, DIET, our TF-IDF ensemble: most of a message's CPU), then its last
# component, ``RegexMessageHandler``, replaces every guess with what the payload says,
# in a new message holding only text, intent, ranking and entities. When the payload's
# intent is one of the domain's, the pipeline's work is thrown away, so it is skipped and
# ``RegexMessageHandler``'s own function builds the same result (tested equal to the
# whole pipeline's for every button of the domain and the load scripts). Anything else
# starting with "/" (unknown intent, not a payload) goes through the pipeline as before,
# where Rasa warns about it once. Half the messages of the load scripts are buttons.


#: Rasa's own parse, replaced below, kept for the equivalence test
RASA_PARSE: dict[str, Any] = {}


def _install_payload_parse(module: ModuleType) -> None:
    from rasa.nlu.classifiers.regex_message_handler import RegexMessageHandler
    from rasa.shared.constants import INTENT_MESSAGE_PREFIX
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
    from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
    from rasa.shared.nlu.training_data.message import Message

    processor_class = module.MessageProcessor
    rasa_parse = processor_class._parse_message_with_graph
    pattern = YAMLStoryReader._regex_message_pattern()

    def _parse_message_with_graph(self: Any, message: Any, tracker: Any,
                                  only_output_properties: bool = True) -> dict[str, Any]:
        text = (message.text or "").strip()
        match = pattern.match(text) if text.startswith(INTENT_MESSAGE_PREFIX) else None
        if match is None or match.group(INTENT_NAME_KEY).strip() not in self.domain.intents:
            return rasa_parse(self, message, tracker, only_output_properties)  # type: ignore[no-any-return]
        unpacked = YAMLStoryReader.unpack_regex_message(Message({TEXT: message.text}), self.domain,
                                                        entity_extractor_name=RegexMessageHandler.__name__)
        # what _parse_message_with_graph builds from the pipeline's last message
        parse_data = {TEXT: "", INTENT: {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}, ENTITIES: []}
        parse_data.update(unpacked.as_dict(only_output_properties=only_output_properties))
        return parse_data

    RASA_PARSE["parse_message_with_graph"] = rasa_parse
    processor_class._parse_message_with_graph = _parse_message_with_graph
