"""``python -m akto_data.leads.worker``: the outbox worker as its own process.

Started by ``make run`` beside Rasa and the action server; several can run at once
against PostgreSQL (rows are claimed with SKIP LOCKED).
"""

from __future__ import annotations

import logging
import signal

from akto_data.db import ensure_schema
from akto_data.leads.delivery import OutboxWorker
from akto_data.settings import load_settings

READY_MARKER = "OUTBOX_READY"


def main() -> None:
    logging.basicConfig(level=load_settings().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    ensure_schema()
    worker = OutboxWorker()
    print(f"{READY_MARKER} smtp={worker.smtp.host}:{worker.smtp.port}", flush=True)
    worker.run_forever(interval=5.0, should_stop=lambda: bool(stopping))


if __name__ == "__main__":
    main()
