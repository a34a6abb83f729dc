"""Logging for our processes, with phone numbers and e-mails masked.

Young people type contact details in the chat and in the lead form; a log line that
quotes a message, a payload or an exception must not keep them in clear. A
traceback is the usual leak: SQLAlchemy puts the statement's parameters in its
exception text (``IntegrityError … [parameters: ('Kévin <kevin@gmail.com> 06/96/…',)]``).

Masking happens at three places, so no handler or formatter is left out:

* the log record factory masks every record when it is created, whatever logger
  and handler then print it (python-telegram-bot, httpx, rasa-sdk, Sanic's own
  handlers): its message and arguments, its exception text and its stack;
* :class:`MaskingFilter` and :class:`MaskingFormatter`, put on the handlers, mask
  the record again and the whole formatted line (fields a library adds with
  ``extra=`` included);
* uncaught exceptions (main thread and other threads) print a masked traceback.

Standard library only and Python 3.10-compatible: Rasa (``.venv-rasa``) loads this
module from ``stack/rasa_logging.yml`` (``rasa run --logging-config-file``).
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType
from typing import Any

from akto_data.redact import mask_contacts

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_MASKED = "_contacts_masked"  # set on a record once masked; masking is idempotent anyway


def _mask_message(record: logging.LogRecord, message: str) -> None:
    """Mask the template and its arguments one by one, keeping the record's shape.

    Some formatters read ``record.args`` themselves (uvicorn's access log unpacks
    them); when a contact spans several arguments or hides in a non-text one, the
    masked message replaces template and arguments.
    """
    if isinstance(record.msg, str) and isinstance(record.args, tuple):
        msg = mask_contacts(record.msg)
        args = tuple(mask_contacts(arg) if isinstance(arg, str) else arg for arg in record.args)
        try:
            candidate = msg % args if args else msg
        except (TypeError, ValueError):
            candidate = None
        if candidate is not None and mask_contacts(candidate) == candidate:
            record.msg, record.args = msg, args
            return
    record.msg, record.args = mask_contacts(message), None


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask ``record`` in place: message with its arguments, exception text, stack."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: leave the record for logging to report
        return record
    if mask_contacts(message) != message:
        _mask_message(record, message)
    if record.exc_info and not record.exc_text:
        # Formatters reuse this cached text instead of formatting the exception again.
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_contacts(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_contacts(record.stack_info)
    setattr(record, _MASKED, True)
    return record


class MaskingFilter(logging.Filter):
    """Masks each record a handler receives (kept when coloredlogs replaces the handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


class MaskingFormatter(logging.Formatter):
    """Masks the whole formatted line, around ``inner`` (or as a plain formatter).

    Usable from a logging configuration file (``class:`` with ``format:``), since it
    takes :class:`logging.Formatter`'s arguments.
    """

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, style: Any = "%",
                 validate: bool = True, *, inner: logging.Formatter | None = None) -> None:
        super().__init__(fmt, datefmt, style, validate)
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        mask_record(record)
        text = self.inner.format(record) if self.inner is not None else super().format(record)
        return mask_contacts(text)


def _excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    sys.stderr.write(mask_contacts("".join(traceback.format_exception(kind, value, tb))))


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else threading.get_ident()
    text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
    sys.stderr.write(mask_contacts(f"Exception in thread {name}:\n{text}"))


def _install_process_hooks() -> None:
    """Record factory and exception hooks, once per process."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, _MASKED, False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return mask_record(previous(*args, **kwargs))

    setattr(factory, _MASKED, True)
    logging.setLogRecordFactory(factory)
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook


def _protect(handler: logging.Handler) -> None:
    if not any(isinstance(f, MaskingFilter) for f in handler.filters):
        handler.addFilter(MaskingFilter())
    if not isinstance(handler.formatter, MaskingFormatter):
        handler.setFormatter(MaskingFormatter(inner=handler.formatter or logging.Formatter()))


def install_masking() -> None:
    """Mask contacts in everything this process logs from now on (idempotent).

    Also puts :class:`MaskingFilter` and :class:`MaskingFormatter` on every handler
    already configured (rasa-sdk configures its own before importing ``actions``).
    """
    _install_process_hooks()
    loggers = [logging.getLogger()] + [logger for logger in logging.Logger.manager.loggerDict.values()
                                       if isinstance(logger, logging.Logger)]
    for logger in loggers:
        for handler in list(logger.handlers):
            _protect(handler)


def process_masking_filter() -> MaskingFilter:
    """For logging configuration files (Rasa): install the masking, return the handler filter.

    ``rasa run --logging-config-file stack/rasa_logging.yml`` names this as the
    ``()`` factory of a filter; dictConfig calls it, which installs the record
    factory and exception hooks for the whole Rasa process (Sanic's handlers, set up
    later, included).
    """
    _install_process_hooks()
    return MaskingFilter()


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format=FORMAT)
    install_masking()
    # httpx logs every request URL at INFO, and Telegram URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
