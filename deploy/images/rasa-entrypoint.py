"""Start Rasa in a container the way our launcher starts it on one machine.

``stack.services`` (which imports httpx and SQLAlchemy 2, absent from Rasa's Python
3.10 environment) derives Rasa's endpoint variables from our settings and starts Rasa
through ``RASA_WITH_TOKEN``. This file does the same with the standard library only,
so the image needs none of our 3.11 code:

- ``rasa_components.serving.install()`` before Rasa's main (hot path, idempotent
  REST channel): a plain ``rasa run`` would not call it;
- ``--auth-token`` read from ``RASA_AUTH_TOKEN`` inside the process, so ``ps`` never
  shows it;
- ``RASA_TRACKER_URL`` from ``DATABASE_URL`` (Rasa 3.6 speaks psycopg2), the lock
  store's ``RASA_REDIS_*`` from ``REDIS_URL``, the pika event broker's ``RASA_RABBITMQ_*``
  from ``RABBITMQ_URL``; with ``REDIS_URL`` set, the production endpoints file
  (PostgreSQL tracker store, Redis lock store, RabbitMQ event broker), which then
  needs ``RABBITMQ_URL`` too;
- masked logs (``stack/rasa_logging.yml``).

tests/unit/test_deploy_images.py checks the variables derived here against
``stack.services.service_env`` for the same settings, so the two cannot drift apart.

    rasa-entrypoint.py [run] [extra rasa run arguments]
    rasa-entrypoint.py --print      # the command and the names of the derived variables
    rasa-entrypoint.py --version    # rasa --version
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

APP = Path(__file__).resolve().parents[2]
MODEL = os.environ.get("RASA_MODEL", str(APP / "models" / "model.tar.gz"))

#: Same start as stack.services.RASA_WITH_TOKEN (kept equal by a unit test).
RASA_WITH_TOKEN = (
    "import os, sys; import rasa_components.serving as serving; serving.install(); "
    "from rasa.__main__ import main; "
    "token = os.environ.pop('RASA_AUTH_TOKEN', ''); sys.argv[0] = 'rasa'; "
    "sys.argv += ['--auth-token=' + token] if token else []; sys.exit(main())"
)


def tracker_url(database_url: str) -> str:
    """Rasa 3.6's (SQLAlchemy 1.4, psycopg2) spelling of our ``DATABASE_URL``."""
    parts = urlsplit(database_url)
    scheme = "postgresql" if parts.scheme.split("+")[0] in ("postgresql", "postgres") else parts.scheme
    return urlunsplit(parts._replace(scheme=scheme))


#: Settings that may come as files, ``NAME_FILE=/path`` (same list in app-entrypoint.sh).
SECRET_NAMES = ("DATABASE_URL", "REDIS_URL", "RABBITMQ_URL", "RASA_AUTH_TOKEN", "ACTION_SERVER_TOKEN",
                "TELEGRAM_BOT_TOKEN", "WEBHOOK_SECRET", "LEAD_LINKS_SECRET", "CONSOLE_SECRET", "SMTP_PASSWORD",
                "CONSOLE_ADMIN_PASSWORD")


def read_secret_files(environ: dict[str, str]) -> dict[str, str]:
    """``NAME_FILE=/path`` sets ``NAME`` to the file's content (Compose or Kubernetes secrets)."""
    env = dict(environ)
    for key in [f"{name}_FILE" for name in SECRET_NAMES if environ.get(f"{name}_FILE")]:
        try:
            env[key[:-5]] = Path(environ[key]).read_text().strip()
        except OSError as exc:
            raise SystemExit(f"{key} : fichier illisible ({exc.strerror})") from None
        del env[key]
    return env


def rabbitmq_env(rabbitmq_url: str, environ: dict[str, str]) -> dict[str, str]:
    """Rasa's pika broker settings; user and password apart (Rasa adds them to the URL)."""
    parsed = urlsplit(rabbitmq_url)
    port = parsed.port or (5671 if parsed.scheme == "amqps" else 5672)
    vhost = parsed.path if parsed.path not in ("", "/") else ""
    return {
        "RASA_RABBITMQ_URL": f"{parsed.scheme or 'amqp'}://{parsed.hostname or '127.0.0.1'}:{port}{vhost}",
        "RASA_RABBITMQ_PORT": str(port),
        "RASA_RABBITMQ_USERNAME": unquote(parsed.username or "guest"),
        "RASA_RABBITMQ_PASSWORD": unquote(parsed.password or "guest"),
        "RASA_EVENTS_QUEUE": environ.get("RASA_EVENTS_QUEUE") or "rasa_events",
        "RASA_EVENTS_EXCHANGE": environ.get("RASA_EVENTS_EXCHANGE") or "rasa-exchange",
    }


def rasa_env(environ: dict[str, str]) -> dict[str, str]:
    """The Rasa process's environment: ``environ`` plus the endpoint variables."""
    environ = read_secret_files(environ)
    env = dict(environ)
    missing = [name for name in ("DATABASE_URL", "ACTION_SERVER_URL") if not environ.get(name)]
    if missing:
        raise SystemExit(f"variables manquantes pour Rasa : {', '.join(missing)}")
    env["RASA_TRACKER_URL"] = tracker_url(environ["DATABASE_URL"])
    redis_url = environ.get("REDIS_URL")
    if redis_url:
        parsed = urlsplit(redis_url)
        env.update(RASA_REDIS_HOST=parsed.hostname or "127.0.0.1", RASA_REDIS_PORT=str(parsed.port or 6379),
                   RASA_REDIS_DB=(parsed.path.strip("/") or "0"))
    rabbitmq_url = environ.get("RABBITMQ_URL")
    if redis_url and not rabbitmq_url:
        raise SystemExit("REDIS_URL sans RABBITMQ_URL : endpoints.production.yml publie les événements sur RabbitMQ")
    if rabbitmq_url:
        env.update(rabbitmq_env(rabbitmq_url, environ))
    env.setdefault("PYTHONPATH", str(APP))
    env.setdefault("PYTHONUNBUFFERED", "1")
    # The bot's secrets never reach Rasa (stack.services.BOT_ONLY_ENV).
    for name in ("TELEGRAM_BOT_TOKEN", "WEBHOOK_SECRET"):
        env.pop(name, None)
    return env


def rasa_command(env: dict[str, str], extra: list[str]) -> list[str]:
    endpoints = "endpoints.production.yml" if "RASA_REDIS_HOST" in env else "endpoints.yml"
    port = env.get("RASA_PORT", "5005")
    return [sys.executable, "-c", RASA_WITH_TOKEN, "run", "--enable-api", "--interface", "0.0.0.0",
            "--port", port, "--model", MODEL, "--endpoints", str(APP / endpoints),
            "--credentials", str(APP / "credentials.yml"),
            "--logging-config-file", str(APP / "stack" / "rasa_logging.yml"), *extra]


def main(argv: list[str]) -> int:
    if argv[:1] == ["--version"]:
        os.execv(sys.executable, [sys.executable, "-m", "rasa", "--version"])
    printing = argv[:1] == ["--print"]
    args = argv[1:] if argv[:1] in (["run"], ["--print"]) else argv
    env = rasa_env(dict(os.environ))
    command = rasa_command(env, args)
    if printing:
        print(" ".join(command[3:]))
        print("derived:", " ".join(sorted(set(env) - set(os.environ))))
        return 0
    os.chdir(APP)
    os.execve(command[0], command, env)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
