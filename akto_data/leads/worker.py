"""``python -m akto_data.leads.worker``: the outbox worker as its own process.

Sends the outbox (lead e-mails, webhooks, Telegram notices, reminders), anonymises
expired leads and serves the status page of the signed links. Started by ``make
run`` beside Rasa and the action server; several can run at once
against PostgreSQL (rows are claimed with SKIP LOCKED).
"""

from __future__ import annotations

import logging
import signal

from akto_data.db import ensure_schema
from akto_data.leads.delivery import OutboxWorker
from akto_data.leads.status_page import serve_in_background
from akto_data.logs import configure_logging
from akto_data.settings import load_settings

READY_MARKER = "OUTBOX_READY"


def main() -> None:
    settings = load_settings()
    configure_logging(settings.log_level)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    ensure_schema()
    worker = OutboxWorker()
    try:
        page = serve_in_background(settings.lead_links_listen, settings.lead_links_port)
        status_page = f"{settings.lead_links_listen}:{page.server_port}"
    except OSError as exc:  # another worker serves the page; sending must go on
        logging.getLogger(__name__).error("status page not started on port %s: %s", settings.lead_links_port, exc)
        status_page = "none"
    print(f"{READY_MARKER} smtp={worker.smtp.host}:{worker.smtp.port} status_page={status_page}", flush=True)
    worker.run_forever(interval=5.0, should_stop=lambda: bool(stopping))


if __name__ == "__main__":
    main()
