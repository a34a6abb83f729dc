"""Start, watch and stop the three processes of the assistant.

Rasa (Python 3.10, ``.venv-rasa``), the action server and the bot (Python 3.11,
``.venv``) are separate processes talking HTTP on 127.0.0.1, as in production.
Each writes its log to ``var/log/<name>.log``.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

import httpx
from sqlalchemy.engine import make_url

from akto_data.settings import PROJECT_ROOT, Settings, var_dir

APP_PYTHON = Path(sys.executable)
RASA_BIN = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
RASA_PYTHON = RASA_BIN.parent / "python"
#: ``rasa`` with ``--auth-token`` read from the environment: an argument added inside
#: the process is not in ``/proc/<pid>/cmdline``, so ``ps`` never shows the token
#: (Rasa 3.6 takes it only on its command line).
RASA_WITH_TOKEN = (
    "import os, sys; import rasa_components.serving as serving; serving.install(); "
    "from rasa.__main__ import main; "
    "token = os.environ.pop('RASA_AUTH_TOKEN', ''); sys.argv[0] = 'rasa'; "
    "sys.argv += ['--auth-token=' + token] if token else []; sys.exit(main())"
)
# ``--auth-token=<token>`` in one argument: a random token starting with "-" (1 start in 64)
# was read by argparse as an option, and Rasa refused to start.
RASA_LOGGING_CONFIG = PROJECT_ROOT / "stack" / "rasa_logging.yml"


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if the launcher dies, even by SIGKILL.

    Without it, a killed launcher would leave Rasa (1.2 GB) and the action server
    running and holding their ports.
    """
    with suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class StartupError(RuntimeError):
    """A service died or did not become healthy in time; the message says which and where its log is."""


def rasa_tracker_url(database_url: str) -> str:
    """Rasa 3.6 (SQLAlchemy 1.4, psycopg2) spelling of our ``DATABASE_URL``."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        url = url.set(drivername="postgresql")
    if url.get_backend_name() == "sqlite" and url.database and not os.path.isabs(url.database):
        url = url.set(database=str((PROJECT_ROOT / url.database).resolve()))
    return url.render_as_string(hide_password=False)


def service_env(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of every child: the settings made explicit, plus Rasa's endpoint variables."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.database_url,
        RASA_URL=settings.rasa_url,
        ACTION_SERVER_URL=settings.action_server_url,
        RASA_TRACKER_URL=rasa_tracker_url(settings.database_url),
        SANIC_HOST="127.0.0.1",  # rasa-sdk's action server binds here (its webhook has no auth)
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(PROJECT_ROOT),
    )
    redis_url = settings.redis_url or os.environ.get("REDIS_URL")
    if redis_url:
        parsed = urlparse(redis_url)
        env.update(RASA_REDIS_HOST=parsed.hostname or "127.0.0.1", RASA_REDIS_PORT=str(parsed.port or 6379),
                   RASA_REDIS_DB=(parsed.path.strip("/") or "0"))
    if settings.rabbitmq_url:
        env.update(rabbitmq_env(settings))
    env.update(extra or {})
    return env


def rabbitmq_env(settings: Settings) -> dict[str, str]:
    """Rasa's pika broker settings (``endpoints.production.yml``) from ``RABBITMQ_URL``.

    The user and password go in their own variables (Rasa adds them to the URL itself);
    the password stays in the environment of the Rasa processes, never on a command line.
    """
    parsed = urlparse(settings.rabbitmq_url or "")
    port = parsed.port or (5671 if parsed.scheme == "amqps" else 5672)
    vhost = parsed.path if parsed.path not in ("", "/") else ""
    return {
        "RASA_RABBITMQ_URL": f"{parsed.scheme or 'amqp'}://{parsed.hostname or '127.0.0.1'}:{port}{vhost}",
        "RASA_RABBITMQ_PORT": str(port),
        "RASA_RABBITMQ_USERNAME": unquote(parsed.username or "guest"),
        "RASA_RABBITMQ_PASSWORD": unquote(parsed.password or "guest"),
        "RASA_EVENTS_QUEUE": settings.events_queue,
        "RASA_EVENTS_EXCHANGE": settings.events_exchange,
    }


#: Variables only the bot process may see: Rasa, the action server and the outbox
#: worker never talk to Telegram, so a leak from them (an error text, a debug dump)
#: cannot expose the bot token.
BOT_ONLY_ENV = ("TELEGRAM_BOT_TOKEN", "WEBHOOK_SECRET")


def env_for(service_name: str, env: dict[str, str]) -> dict[str, str]:
    """The environment of one child: the bot's secrets go to the bot only."""
    if service_name == "bot":
        return env
    return {name: value for name, value in env.items() if name not in BOT_ONLY_ENV}


@dataclass
class Service:
    name: str
    command: list[str]
    healthy: Callable[[Service], bool]
    where: str
    process: subprocess.Popen | None = None
    log_path: Path = field(default_factory=Path)
    started_at: float = 0.0
    ready_after: float | None = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _http_ok(url: str, check: Callable[[httpx.Response], bool] = lambda r: r.status_code == 200) -> bool:
    try:
        return check(httpx.get(url, timeout=2.0))
    except httpx.HTTPError:
        return False


def _log_has(marker: str) -> Callable[[Service], bool]:
    def check(service: Service) -> bool:
        try:
            return marker in service.log_path.read_text(errors="replace")
        except OSError:
            return False

    return check


class Stack:
    """The running assistant. Use as a context manager: everything stops on exit."""

    def __init__(self, settings: Settings, *, log_dir: Path | None = None, extra_env: dict[str, str] | None = None):
        self.settings = settings
        self.log_dir = log_dir or var_dir() / "log"
        self.env = service_env(settings, extra_env)
        # Shared secrets of the local services, new at each start unless configured:
        # Rasa's HTTP API (all but the REST channel) and the action server refuse calls without them.
        self.settings = replace(settings, rasa_auth_token=settings.rasa_auth_token or secrets.token_urlsafe(32),
                                action_server_token=settings.action_server_token or secrets.token_urlsafe(32))
        self.env.update(RASA_AUTH_TOKEN=self.settings.rasa_auth_token or "",
                        ACTION_SERVER_TOKEN=self.settings.action_server_token or "")
        self.services: list[Service] = []

    # -- definitions -----------------------------------------------------------------
    def action_server(self, *, url: str | None = None, name: str = "actions") -> Service:
        """The action server at ``url`` (default ``ACTION_SERVER_URL``); the topology may start several."""
        port = urlparse(url or self.settings.action_server_url).port or 5055
        base = f"http://127.0.0.1:{port}"
        return Service(
            name,
            [str(APP_PYTHON), "-m", "stack.action_server", "--port", str(port)],  # rasa-sdk + token check
            lambda s: _http_ok(f"{base}/health"),
            where=f"{base}/webhook",
        )

    def endpoints_file(self) -> str:
        """``endpoints.yml`` (embedded), or ``endpoints.production.yml`` when REDIS_URL is set.

        Without RABBITMQ_URL the production file is used without its event broker (a copy
        in the log folder), as before the topology had one.
        """
        if "RASA_REDIS_HOST" not in self.env:
            return "endpoints.yml"
        if "RASA_RABBITMQ_URL" in self.env:
            return "endpoints.production.yml"
        import yaml

        config = yaml.safe_load((PROJECT_ROOT / "endpoints.production.yml").read_text())
        config.pop("event_broker", None)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_dir / "endpoints.without-broker.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return str(path)

    def rasa_server(self, model: Path, *, url: str | None = None, name: str = "rasa") -> Service:
        """One Rasa server at ``url`` (default ``RASA_URL``); the topology starts several, named rasa-1…"""
        url = (url or self.settings.rasa_url).rstrip("/")
        parsed = urlparse(url)
        return Service(
            name,
            [str(RASA_PYTHON), "-c", RASA_WITH_TOKEN, "run", "--enable-api", "--interface", parsed.hostname or "127.0.0.1",
             "--port", str(parsed.port or 5005), "--model", str(model), "--endpoints", self.endpoints_file(),
             "--credentials", "credentials.yml",
             # phones and e-mails masked in Rasa's own log (akto_data.logs, loaded by Rasa)
             "--logging-config-file", str(RASA_LOGGING_CONFIG)],
            lambda s: _http_ok(f"{url}/status?token={quote(self.settings.rasa_auth_token or '')}",
                               lambda r: r.status_code == 200
                               and bool(r.json().get("model_id"))),
            where=url,
        )

    def outbox_worker(self) -> Service:
        return Service("outbox", [str(APP_PYTHON), "-m", "akto_data.leads.worker"], _log_has("OUTBOX_READY"),
                       where="e-mails des demandes aux CFA (SMTP_HOST/SMTP_PORT)")

    def console(self) -> Service:
        base = f"http://{self.settings.console_listen}:{self.settings.console_port}"
        return Service("console", [str(APP_PYTHON), "-m", "web", "serve"], lambda s: _http_ok(f"{base}/health"),
                       where=f"{base} (console du personnel AKTO)")

    def telegram_bot(self) -> Service:
        mode = f"webhook {self.settings.webhook_url}" if self.settings.webhook_url else "long polling"
        return Service("bot", [str(APP_PYTHON), "-m", "bot"], _log_has("BOT_READY"),
                       where=f"Telegram ({mode}) via {self.settings.telegram_api_base_url}")

    # -- lifecycle -------------------------------------------------------------------
    def start(self, service: Service) -> Service:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        service.log_path = self.log_dir / f"{service.name}.log"
        handle = service.log_path.open("w")
        service.started_at = time.monotonic()
        service.process = subprocess.Popen(
            service.command, cwd=PROJECT_ROOT, env=env_for(service.name, self.env), stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent,
        )
        handle.close()
        self.services.append(service)
        return service

    def wait_healthy(self, timeout: float = 180.0, on_ready: Callable[[Service], None] | None = None) -> None:
        deadline = time.monotonic() + timeout
        pending = [s for s in self.services if s.ready_after is None]
        while pending:
            for service in list(pending):
                if service.process is not None and service.process.poll() is not None:
                    raise StartupError(
                        f"{service.name} s'est arrêté au démarrage (code {service.process.returncode}). "
                        f"Journal : {service.log_path}\n{service.log_tail()}"
                    )
                if service.healthy(service):
                    service.ready_after = time.monotonic() - service.started_at
                    pending.remove(service)
                    if on_ready:
                        on_ready(service)
            if pending and time.monotonic() > deadline:
                names = ", ".join(s.name for s in pending)
                raise StartupError(f"pas prêt après {timeout:.0f} s : {names}. Journaux dans {self.log_dir}")
            if pending:
                time.sleep(0.5)

    def stop(self, service: Service | None = None, timeout: float = 15.0) -> None:
        targets = [service] if service else list(reversed(self.services))
        for target in targets:
            if target.process and target.process.poll() is None:
                with suppress(ProcessLookupError):
                    os.killpg(target.process.pid, signal.SIGTERM)
        for target in targets:
            if target.process is None:
                continue
            try:
                target.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(target.process.pid, signal.SIGKILL)
                target.process.wait()
            if target in self.services:
                self.services.remove(target)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def scratch_stack(model: Path, *, with_actions: bool) -> Iterator[tuple[Stack, Settings]]:
    """Rasa (and the action server) on a throw-away SQLite file, for measurements.

    ``make bench`` and ``make eval`` must never write into the real database.
    """
    from akto_data.db import dispose_engines
    from akto_data.settings import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/scratch.db"
        dispose_engines()
        settings = load_settings()
        with Stack(settings, log_dir=Path(tmp) / "log") as stack:
            if with_actions:
                stack.start(stack.action_server())
            stack.start(stack.rasa_server(model))
            stack.wait_healthy(timeout=300)
            yield stack, stack.settings  # with the tokens of this start
