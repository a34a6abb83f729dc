"""Logging for our processes, with phone numbers and e-mails masked.

Young people type contact details in the chat and in the lead form; a log line that
quotes a message, a payload or an exception must not keep them in clear. The masking
is installed as the process's log record factory, so it covers every logger,
including libraries' (python-telegram-bot, httpx, rasa-sdk), whatever handler
prints the record.
"""

from __future__ import annotations

import logging

from akto_data.redact import mask_contacts

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_installed = False


def install_masking() -> None:
    """Mask contacts in every log record created from now on (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave the record for logging to report
            return record
        masked = mask_contacts(message)
        if masked != message:
            record.msg, record.args = masked, None
        return record

    logging.setLogRecordFactory(factory)


def configure_logging(level: str = "INFO") -> None:
    install_masking()
    logging.basicConfig(level=level, format=FORMAT)
    # httpx logs every request URL at INFO, and Telegram URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
