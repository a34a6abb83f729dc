"""The deployments ``make load`` measures, each yielding a :class:`~stack.load.runner.Target`.

- ours, embedded default: :func:`stack.services.scratch_stack` (what ``make run`` starts,
  SQL tracker store on a throw-away SQLite file, our launcher and action server);
- the standard deployment of the same model: a plain ``rasa run`` with default
  settings (in-memory tracker store, no ``--auth-token``, Rasa's own REST channel, our
  ``rasa_components.serving.install()`` never called) and the default rasa-sdk action
  server, on another throw-away SQLite catalogue;
- ours on the production topology (:mod:`stack.topology`, ``--topology N``).

Every database here is a scratch one with ``content/`` imported: the load never
touches the real data.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

from akto_data.settings import PROJECT_ROOT, load_settings
from stack.load.runner import Target
from stack.services import APP_PYTHON, RASA_BIN, Stack, StartupError, scratch_stack, service_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def use_database(url: str) -> None:
    """Point this process at ``url`` and bring it to the schema with ``content/`` imported."""
    from akto_data.catalogue.importer import import_catalogue
    from akto_data.db import create_schema, dispose_engines

    os.environ["DATABASE_URL"] = url
    dispose_engines()
    create_schema()
    import_catalogue(author="make load")


def pids_of(stack: Stack) -> dict[str, list[int]]:
    """Process ids by kind: every Rasa server under "rasa", every action server under "actions"."""
    kinds: dict[str, list[int]] = {}
    for service in stack.services:
        if service.process is None or service.process.poll() is not None:
            continue
        kind = "rasa" if service.name.startswith("rasa") else "actions" if service.name.startswith("actions") \
            else service.name
        kinds.setdefault(kind, []).append(service.process.pid)
    return kinds


@contextmanager
def ours_embedded(model: Path) -> Iterator[Target]:
    """The embedded default as ``make run`` starts it, on scratch SQLite, ports picked by the OS."""
    os.environ["RASA_URL"] = f"http://127.0.0.1:{free_port()}"
    os.environ["ACTION_SERVER_URL"] = f"http://127.0.0.1:{free_port()}/webhook"
    with scratch_stack(model, with_actions=True) as (stack, settings):
        use_database(os.environ["DATABASE_URL"])  # scratch_stack's file: the catalogue it lacks
        yield Target("ours (embedded)", settings.rasa_url, settings.rasa_auth_token, lambda: pids_of(stack))


def _wait(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float,
          ready: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StartupError(f"{url}: arrêté au démarrage (code {process.returncode}), journal {log}:\n"
                               + "\n".join(log.read_text(errors="replace").splitlines()[-20:]))
        with suppress(httpx.HTTPError, ValueError):
            response = httpx.get(url, timeout=2.0)
            if response.status_code == 200 and (not ready or response.json().get(ready)):
                return
        time.sleep(0.5)
    raise StartupError(f"{url}: pas prêt après {timeout:.0f} s, journal {log}")


@contextmanager
def standard(model: Path) -> Iterator[Target]:
    """One plain ``rasa run`` and one default action server, as Rasa's documentation starts them.

    Deliberately not our launcher: no ``RASA_WITH_TOKEN`` (so no
    ``rasa_components.serving.install()``), default tracker store (in memory), Rasa's
    own REST channel (a credentials file with ``rest:`` only), no ``--auth-token``.
    ``--enable-api`` only so the trackers can be read back for the order check.
    ``PYTHONPATH`` holds the project because the model's pipeline names our NLU
    components, as it must for any deployment of this model.
    """
    rasa_port, action_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="load-standard-") as tmp:
        folder = Path(tmp)
        database = f"sqlite:///{folder / 'standard.db'}"
        previous = os.environ.get("DATABASE_URL")
        use_database(database)
        endpoints = folder / "endpoints.yml"
        endpoints.write_text(f"action_endpoint:\n  url: http://127.0.0.1:{action_port}/webhook\n")
        credentials = folder / "credentials.yml"
        credentials.write_text("rest:\n")
        env = service_env(load_settings())
        for name in ("RASA_AUTH_TOKEN", "ACTION_SERVER_TOKEN", "RASA_TRACKER_URL", "RASA_REDIS_HOST"):
            env.pop(name, None)
        processes: list[subprocess.Popen[bytes]] = []
        try:
            actions_log, rasa_log = folder / "actions.log", folder / "rasa.log"
            with actions_log.open("wb") as out:
                actions = subprocess.Popen(
                    [str(APP_PYTHON), "-m", "rasa_sdk", "--actions", "actions", "--port", str(action_port)],
                    cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True)
            processes.append(actions)
            with rasa_log.open("wb") as out:
                rasa = subprocess.Popen(
                    [str(RASA_BIN), "run", "--model", str(model), "--port", str(rasa_port), "--interface",
                     "127.0.0.1", "--endpoints", str(endpoints), "--credentials", str(credentials),
                     "--enable-api"],
                    cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True)
            processes.append(rasa)
            _wait(f"http://127.0.0.1:{action_port}/health", actions, actions_log, 60)
            _wait(f"http://127.0.0.1:{rasa_port}/status", rasa, rasa_log, 300, ready="model_id")
            yield Target("standard rasa run", f"http://127.0.0.1:{rasa_port}", None,
                         lambda: {"rasa": [rasa.pid], "actions": [actions.pid]})
        finally:
            for process in reversed(processes):
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, 15)
            for process in processes:
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, 9)
                    process.wait()
            if previous is not None:
                os.environ["DATABASE_URL"] = previous
