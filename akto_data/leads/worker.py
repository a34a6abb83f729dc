"""``python -m akto_data.leads.worker``: the outbox worker as its own process.

Sends the outbox (lead e-mails, webhooks, reminders), runs the retention and serves
the status page of the signed links. Telegram notices are sent by the bot, which
alone holds the token. Started by ``make run`` beside Rasa and the action server.
Several can run at once against PostgreSQL (rows are claimed with SKIP LOCKED); on
SQLite, where row locks do not exist, a second worker waits on a lock file next to
the database until the first stops, so no e-mail is sent twice.
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy.engine import make_url

from akto_data.db import ensure_schema
from akto_data.leads.delivery import OutboxWorker
from akto_data.leads.status_page import serve_in_background
from akto_data.logs import configure_logging
from akto_data.settings import load_settings

READY_MARKER = "OUTBOX_READY"
WAITING_MARKER = "OUTBOX_WAITING"
log = logging.getLogger(__name__)


def sqlite_worker_lock(database_url: str) -> FileLock | None:
    """The lock one worker per SQLite file must hold (None for other databases)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return FileLock(str(Path(str(url.database)).resolve()) + ".outbox.lock")


def main() -> None:
    settings = load_settings()
    configure_logging(settings.log_level)
    stopping: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    lock = sqlite_worker_lock(settings.database_url)
    if lock is not None:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            print(f"{WAITING_MARKER} un autre worker envoie déjà pour cette base SQLite ; attente de sa fin "
                  f"({lock.lock_file})", flush=True)
            while not stopping:
                try:
                    lock.acquire(timeout=1)
                    break
                except Timeout:
                    continue
            if stopping:
                return
    ensure_schema()
    worker = OutboxWorker()
    try:
        page = serve_in_background(settings.lead_links_listen, settings.lead_links_port)
        status_page = f"{settings.lead_links_listen}:{page.server_port}"
    except OSError as exc:  # another worker serves the page; sending must go on
        log.error("status page not started on port %s: %s", settings.lead_links_port, exc)
        page, status_page = None, "none"
    print(f"{READY_MARKER} smtp={worker.smtp.host}:{worker.smtp.port} ({worker.smtp.security}) "
          f"status_page={status_page}", flush=True)
    try:
        worker.run_forever(interval=5.0, should_stop=lambda: bool(stopping))
    finally:
        if page is not None:
            page.shutdown()
        if lock is not None:
            lock.release()


if __name__ == "__main__":
    main()
