"""The Rasa-side speed-ups (rasa_components.serving.hot_path) keep Rasa's behaviour.

Run inside Rasa's own environment (Python 3.10, Rasa 3.6), in a subprocess set up as our
launcher sets up a Rasa server (``rasa_components.serving.install()`` first). What an
operator would notice if they were wrong: a malformed answer of the action server accepted
(events Rasa cannot apply, a conversation broken), or a different error in Rasa's log;
a button payload or a slot placeholder rendered differently.
"""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest

from akto_data.settings import PROJECT_ROOT

RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"

pytestmark = pytest.mark.skipif(not RASA_PYTHON.exists(), reason="Rasa's environment (.venv-rasa) is not installed")


def in_rasa(code: str) -> dict:
    """Run ``code`` in the Rasa environment after our launcher's install(); it prints one JSON line."""
    prelude = "import json, os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\n" \
              "import rasa_components.serving as serving; serving.install()\n"
    result = subprocess.run([str(RASA_PYTHON), "-c", prelude + textwrap.dedent(code)], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=300, env={"PYTHONPATH": str(PROJECT_ROOT),
                                                                              "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


VALIDATION = """
    import jsonschema
    from rasa.core.actions.action import RemoteAction
    from rasa_components.serving import hot_path

    action = RemoteAction("action_x", None)
    patched = RemoteAction._validate_action_result is hot_path._validate_action_result

    def rasa_own(result):
        # Rasa 3.6's RemoteAction._validate_action_result, as shipped
        try:
            jsonschema.validate(result, RemoteAction.action_response_format_spec())
            return None
        except jsonschema.ValidationError as e:
            return e.message

    bad = [
        {"events": [{"event": "slot", "name": 3, "value": "x"}], "responses": []},
        {"events": [{"event": "no_such_event"}], "responses": []},
        {"events": "not a list", "responses": []},
        {"events": [], "responses": ["not an object"]},
        {"events": [{"event": "user", "text": 12}], "responses": []},
        {"events": [{"event": "action", "name": None, "policy": 5}]},
    ]
    good = [
        {"events": [], "responses": []},
        {"events": [{"event": "slot", "timestamp": None, "name": "territory", "value": "martinique"},
                    {"event": "active_loop", "name": None}],
         "responses": [{"text": "Salut", "buttons": [{"title": "Oui", "payload": "/affirm"}]}]},
    ]
    out = {"patched": patched, "bad": [], "good": []}
    for result in bad:
        try:
            action._validate_action_result(result)
            out["bad"].append({"refused": False})
        except jsonschema.ValidationError as e:
            out["bad"].append({"refused": True, "ours": e.message, "rasa": rasa_own(result)})
    for result in good:
        out["good"].append({"ours": action._validate_action_result(result), "rasa": rasa_own(result)})
    print(json.dumps(out))
"""


TRACKERS = """
    import asyncio, tempfile
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import (ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered)

    domain = Domain.from_yaml('''
    version: "3.1"
    intents: [greet]
    slots:
      territory: {type: text, mappings: [{type: custom}]}
    responses:
      utter_hi: [{text: "salut"}]
    ''')
    db = tempfile.mkdtemp() + "/trackers.db"

    def store():
        return SQLTrackerStore(domain, dialect="sqlite", db=db)

    def dump(tracker):
        return None if tracker is None else [e.as_dict() for e in tracker.events] + [tracker.current_slot_values()]

    async def fresh(sender):
        # Rasa's own read, on a store that never kept anything.
        return dump(await store().retrieve(sender))

    def turn(tracker, text, slot=None):
        tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0}))
        if slot:
            tracker.update(SlotSet("territory", slot))
        tracker.update(ActionExecuted("utter_hi"))
        tracker.update(BotUttered("salut"))
        tracker.update(ActionExecuted("action_listen"))

    async def main():
        a, b = store(), store()  # two Rasa servers on one database
        out = {}
        tracker = await a.get_or_create_tracker("chat", append_action_listen=False)
        turn(tracker, "bonjour", "martinique")
        await a.save(tracker)
        kept = await a.retrieve("chat")  # read from the database, then kept
        out["after own save"] = dump(kept) == await fresh("chat")
        turn(kept, "encore")
        await a.save(kept)
        again = await a.retrieve("chat")
        out["same object kept"] = again is kept
        out["after second save"] = dump(again) == await fresh("chat")
        # Server b answers the next message; server a must see it.
        other = await b.retrieve("chat")
        turn(other, "sur b", "guadeloupe")
        await b.save(other)
        seen = await a.retrieve("chat")
        out["after another server"] = dump(seen) == await fresh("chat")
        out["slot from another server"] = seen.get_slot("territory")
        # A message that failed before its save: its events must not be kept.
        turn(seen, "jamais sauvé", "mayotte")
        out["after a failed message"] = dump(await a.retrieve("chat")) == await fresh("chat")
        out["failed slot dropped"] = (await a.retrieve("chat")).get_slot("territory")
        # A new session stored by another server: only the new session is read, as Rasa does.
        newer = await b.retrieve("chat")
        newer.update(ActionExecuted("action_session_start"))
        newer.update(SessionStarted())
        turn(newer, "nouvelle session")
        await b.save(newer)
        out["after a new session"] = dump(await a.retrieve("chat")) == await fresh("chat")
        out["unknown sender"] = await a.retrieve("nobody") is None
        return out

    out = asyncio.run(main())
    print(json.dumps(out))
"""


SQLITE = """
    import asyncio, tempfile
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, UserUttered

    domain = Domain.from_yaml('version: "3.1"\\nintents: [greet]')
    store = SQLTrackerStore(domain, dialect="sqlite", db=tempfile.mkdtemp() + "/trackers.db")

    async def main():
        tracker = await store.get_or_create_tracker("chat", append_action_listen=False)
        tracker.update(UserUttered("bonjour", {"name": "greet", "confidence": 1.0}))
        tracker.update(ActionExecuted("action_listen"))
        await store.save(tracker)
        with store.engine.connect() as first:
            first_id = id(first.connection.dbapi_connection)
            pragmas = [first.exec_driver_sql(f"PRAGMA {name}").scalar() for name in ("journal_mode", "synchronous")]
        with store.engine.connect() as second:
            reused = id(second.connection.dbapi_connection) == first_id
        fresh = SQLTrackerStore(domain, dialect="sqlite", db=store.engine.url.database)
        stored = [e.as_dict()["event"] for e in (await fresh.retrieve("chat")).events]
        return {"pool": type(store.engine.pool).__name__, "pragmas": pragmas, "reused": reused, "stored": stored}

    out = asyncio.run(main())
    print(json.dumps(out))
"""


def test_the_sqlite_tracker_store_keeps_its_connection_in_wal_mode(outputs):
    """The embedded default's conversations: one pooled connection, WAL with synchronous=NORMAL, saved as before."""
    assert outputs["sqlite"] == {"pool": "QueuePool", "pragmas": ["wal", 1], "reused": True,
                                 "stored": ["user", "action"]}


@pytest.fixture(scope="module")
def outputs() -> dict:
    """Both checks in one Rasa process (importing Rasa takes half a minute)."""
    code = "results = {}\n"
    for name, snippet in (("validation", VALIDATION), ("interpolation", INTERPOLATION), ("trackers", TRACKERS),
                          ("sqlite", SQLITE)):
        body = textwrap.indent(textwrap.dedent(snippet).replace("print(json.dumps(out))", "return out"), "    ")
        code += f"def {name}():\n{body}\nresults[{name!r}] = {name}()\n"
    return in_rasa(code + "print(json.dumps(results))\n")


def test_a_malformed_action_response_is_still_refused_with_rasas_error(outputs):
    out = outputs["validation"]
    assert out["patched"], "install() did not replace RemoteAction._validate_action_result"
    for case in out["bad"]:
        assert case["refused"], out
        assert case["rasa"] is not None
        # Rasa's message, then the sentence Rasa appends, exactly as before.
        assert case["ours"].startswith(case["rasa"] + ". Failed to validate Action server response"), case
    assert all(case["ours"] is True and case["rasa"] is None for case in out["good"]), out


INTERPOLATION = """
    from rasa.core.nlg import interpolator
    from rasa_components.serving import hot_path

    texts = ["Salut {name} !", "À {age} ans", "{unknown} ici", "pas de place", "{{échappé}}", "a } b",
             '/ask_occupation{"occupation":"G1602"}', '/inform{"territory": "martinique"}',
             '/inform{"x": "{name}"}', "{name} et {\\"a\\": 1}"]
    values = {"name": "Léa", "age": "19"}
    out = {"patched": interpolator.interpolate_text is hot_path._interpolate_text, "cases": []}
    for text in texts:
        case = {"text": text}
        for label, fn in (("ours", interpolator.interpolate_text), ("rasa", hot_path._rasa_interpolate_text)):
            try:
                case[label] = fn(text, dict(values))
            except Exception as e:
                case[label] = "raised " + type(e).__name__
        out["cases"].append(case)
    response = {"text": "Où ça {name} ?", "buttons": [{"title": "Martinique",
                                                      "payload": '/inform{"territory": "martinique"}'}]}
    out["response"] = interpolator.interpolate(response, values)
    print(json.dumps(out))
"""


def test_button_payloads_and_placeholders_render_as_rasa_renders_them(outputs):
    out = outputs["interpolation"]
    assert out["patched"]
    for case in out["cases"]:
        assert case["ours"] == case["rasa"], case
    assert out["response"] == {"text": "Où ça Léa ?", "buttons": [
        {"title": "Martinique", "payload": '/inform{"territory": "martinique"}'}]}


def test_a_conversation_kept_in_memory_is_always_the_stored_one(outputs):
    """Two servers on one database, a failed message, a new session: every read equals Rasa's own."""
    out = outputs["trackers"]
    assert out == {"same object kept": True, "after own save": True, "after second save": True,
                   "after another server": True, "slot from another server": "guadeloupe",
                   "after a failed message": True, "failed slot dropped": "guadeloupe",
                   "after a new session": True, "unknown sender": True}
