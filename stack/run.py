"""``make run``: the whole assistant on this machine.

Trains the Rasa model if the training data changed, starts the action server and
Rasa in parallel, then the Telegram bot (``TELEGRAM_BOT_TOKEN`` set) or the console
chat (no token), prints where each listens and how long start-up took, and stops
everything on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable

from akto_data.catalogue.importer import domain_topics
from akto_data.catalogue.publishing import sync_at_start
from akto_data.catalogue.yamlsource import ContentFileError
from akto_data.db import create_schema, session_scope
from akto_data.settings import CONTENT_DIR, Settings, load_dotenv, load_settings
from stack.model import ensure_model
from stack.services import Service, Stack, StartupError


def say(message: str) -> None:
    print(f"[run] {message}", flush=True)


def _interrupt(*_: object) -> None:
    """SIGTERM stops the stack like Ctrl-C does."""
    raise KeyboardInterrupt


def main() -> int:
    started = time.monotonic()
    load_dotenv()
    settings = load_settings()
    signal.signal(signal.SIGTERM, _interrupt)
    # A shell without job control starts background commands with SIGINT ignored, and
    # Python keeps it ignored: Ctrl-C (or a supervisor's SIGINT) must always stop us.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        model = ensure_model(say)
        create_schema()
        with session_scope() as session:  # content/ only if the console published nothing since (publishing.py)
            say(sync_at_start(session, CONTENT_DIR, domain_topics()))

        def ready(service: Service) -> None:
            say(f"{service.name:8s} prêt en {service.ready_after:5.1f} s — {service.where}")

        if os.environ.get("RASA_SERVERS"):  # the production topology (README, "Production topology")
            from stack.topology import running_topology

            say(f"Topologie de production : {settings.rasa_servers} serveurs Rasa derrière HAProxy, "
                f"{settings.action_servers} serveur(s) d'actions (Rasa met 45 à 80 s)…")
            with running_topology(model, rasa_servers=settings.rasa_servers, action_servers=settings.action_servers,
                                  settings=settings, on_ready=ready) as topology:
                stack = topology.stack
                stack.start(stack.outbox_worker())
                stack.start(stack.console())
                stack.wait_healthy(timeout=120, on_ready=ready)
                return _fronts(stack, topology.settings, started, ready)
        with Stack(settings) as stack:
            stack.start(stack.action_server())
            stack.start(stack.outbox_worker())
            stack.start(stack.console())
            stack.start(stack.rasa_server(model))
            say("Démarrage de Rasa et du serveur d'actions (Rasa met 45 à 80 s)…")
            stack.wait_healthy(timeout=240, on_ready=ready)
            return _fronts(stack, stack.settings, started, ready)
    except ContentFileError as exc:
        say(f"Contenu invalide, rien n'a été importé ni démarré :\n{exc}")
        return 1
    except (StartupError, RuntimeError) as exc:
        say(f"Échec du démarrage : {exc}")
        return 1
    except KeyboardInterrupt:
        say("Arrêt demandé : tout est arrêté proprement.")
        return 0


def _fronts(stack: Stack, settings: Settings, started: float, ready: Callable[[Service], None]) -> int:
    """The Telegram bot (with a token) or the console chat, once the services are up."""
    if settings.telegram_token:
        bot = stack.start(stack.telegram_bot())
        stack.wait_healthy(timeout=60, on_ready=ready)
        say(f"Assistant prêt en {time.monotonic() - started:.0f} s. Journaux : {stack.log_dir}. Ctrl-C pour arrêter.")
        while bot.process is not None and bot.process.poll() is None:
            time.sleep(1)
        say(f"Le bot s'est arrêté (code {bot.process.returncode if bot.process else '?'}) ; "
            f"journal : {bot.log_path}")
        return 1
    say(f"Assistant prêt en {time.monotonic() - started:.0f} s (console, sans TELEGRAM_BOT_TOKEN).")
    from bot.console import ConsoleFront

    asyncio.run(ConsoleFront(settings).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
