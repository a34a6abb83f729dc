"""No phone number or e-mail in clear in any log of the processes we start (issue #10, finding 5).

Each process is a real subprocess set up as in production: the bot and the outbox
worker with ``configure_logging``, the action server as ``python -m rasa_sdk`` sets
itself up before importing ``actions``, and Rasa (Python 3.10) with
``stack/rasa_logging.yml`` in the order ``rasa run`` applies it.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from akto_data.redact import mask_contacts
from akto_data.settings import PROJECT_ROOT, load_settings
from stack.services import RASA_LOGGING_CONFIG, Stack

RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"
SECRETS = ("kevin@gmail.com", "kevin", "06/96/12/34/56", "0596) 12 34 56", "+596 696 12 34 56", "0696123456",
           "12 34 56")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", re.MULTILINE)


def run_python(python: Path | str, code: str, *args: str) -> str:
    """Run ``code`` in a fresh interpreter from the project root; stdout and stderr together."""
    result = subprocess.run([str(python), "-c", textwrap.dedent(code), *args], cwd=PROJECT_ROOT, timeout=120,
                            capture_output=True, text=True, env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin",
                                                                 "HOME": str(Path.home())})
    return result.stdout + result.stderr


def assert_no_contact(output: str) -> None:
    for secret in SECRETS:
        assert secret not in output, f"{secret!r} in log:\n{output}"


@pytest.mark.parametrize("typed", ["06/96/12/34/56", "(0596) 12 34 56", "+596 696 12 34 56", "0696123456",
                                   "0696 12 34 56", "06.90.12.34.56", "0692-12-34-56", "+262 (0)692 12 34 56",
                                   "00594 694 12 34 56", "+33 6 12 34 56 78", "0639 01 23 45", "696 12 34 56"])
def test_finding_5_every_phone_form_the_lead_form_accepts_is_masked(typed):
    assert mask_contacts(f"slot lead_contact_value = {typed}.") == "slot lead_contact_value = [téléphone]."


@pytest.mark.parametrize("text", ["2026-11-27 12:00:00,123 INFO bot: ok", "[2026-11-27 12:00:00 +0000] [812] [INFO]",
                                  "2026-11-27T12:00:00+00:00", "le 06/11/2026 10:30", "le 01/06/2026 à 09h30",
                                  "né le 12/03/2007", "took 0.612345678 s", "port 5005, pid 12345"])
def test_finding_5_timestamps_dates_and_figures_stay_readable(text):
    assert mask_contacts(text) == text


SQLALCHEMY_FAILURE = """
    import logging
    from sqlalchemy import Column, Integer, String, create_engine
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm import Session, declarative_base

    from akto_data.logs import configure_logging

    configure_logging("INFO")
    Base = declarative_base()

    class Contact(Base):
        __tablename__ = "contact"
        id = Column(Integer, primary_key=True)
        value = Column(String, unique=True)

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    row = "Kévin <kevin@gmail.com> 06/96/12/34/56"
    for _ in range(2):
        try:
            with Session(engine) as session, session.begin():
                session.add(Contact(value=row))
        except IntegrityError:
            logging.getLogger("akto_data.leads").exception("lead not stored")
    logging.getLogger("bot").info("stack %s", "(0596) 12 34 56", stack_info=True)
    raise RuntimeError("crash while sending to +596 696 12 34 56 / kevin@gmail.com")
"""


def test_finding_5_sqlalchemy_traceback_of_bot_and_worker_is_masked():
    output = run_python(sys.executable, SQLALCHEMY_FAILURE)
    assert "IntegrityError" in output and "[parameters: ('Kévin <[e-mail]> [téléphone]',)]" in output
    assert "RuntimeError: crash while sending to [téléphone] / [e-mail]" in output  # uncaught: masked too
    assert "Stack (most recent call last)" in output
    assert_no_contact(output.replace("Kévin <[e-mail]>", ""))
    assert TIMESTAMP.search(output), output  # the log line's own timestamp is intact


ACTION_SERVER = """
    import logging
    from rasa_sdk import utils

    utils.configure_colored_logging("INFO")  # what python -m rasa_sdk does before importing actions
    import actions  # noqa: F401

    logging.getLogger("rasa_sdk.executor").info("slot lead_contact_value = %s", "06/96/12/34/56")
    try:
        raise ValueError("no CFA for kevin@gmail.com (0596) 12 34 56")
    except ValueError:
        logging.getLogger("rasa_sdk.endpoint").exception("action failed")
"""


def test_finding_5_action_server_log_is_masked():
    output = run_python(sys.executable, ACTION_SERVER)
    assert "slot lead_contact_value = [téléphone]" in output
    assert "ValueError: no CFA for [e-mail] [téléphone]" in output
    assert_no_contact(output)
    assert TIMESTAMP.search(output), output


RASA = """
    import logging, sys, threading

    import structlog
    import rasa.utils.io
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    # The order of rasa.__main__.main for `rasa run --logging-config-file ...`:
    configure_logging_and_warnings(None, sys.argv[1], warn_only_once=True, filter_repeated_logs=True)
    rasa.utils.io.configure_colored_logging(None)
    configure_structlog(None)
    from sanic import Sanic

    Sanic("rasa_server")  # installs Sanic's own handlers, as rasa.server does
    logging.getLogger("rasa.core.processor").info("Received user message '%s'", "06/96/12/34/56 kevin@gmail.com")
    structlog.get_logger().info("rasa.core.processor.slots", value="+596 696 12 34 56")
    try:
        raise ValueError("tracker store: [parameters: ('Kévin <kevin@gmail.com> (0596) 12 34 56',)]")
    except ValueError:
        logging.getLogger("sanic.error").exception("Exception occurred while handling uri")

    def fail():
        raise RuntimeError("thread 0696123456")

    thread = threading.Thread(target=fail)
    thread.start()
    thread.join()
    raise RuntimeError("crash +596 696 12 34 56")
"""


@pytest.mark.skipif(not RASA_PYTHON.exists(), reason="Rasa's environment (.venv-rasa) is not installed")
def test_finding_5_rasa_log_is_masked_through_its_logging_config_file():
    output = run_python(RASA_PYTHON, RASA, str(RASA_LOGGING_CONFIG))
    assert "Received user message '[téléphone] [e-mail]'" in output
    assert '"value": "[téléphone]"' in output  # structlog's JSON events
    assert "ValueError: tracker store: [parameters: ('Kévin <[e-mail]> [téléphone]',)]" in output  # Sanic's handler
    assert "RuntimeError: thread [téléphone]" in output and "RuntimeError: crash [téléphone]" in output
    assert_no_contact(output.replace("Kévin <[e-mail]>", ""))
    assert TIMESTAMP.search(output), output


def test_finding_5_rasa_is_started_with_the_masking_config(tmp_path):
    command = Stack(load_settings(), log_dir=tmp_path).rasa_server(tmp_path / "model.tar.gz").command
    assert command[command.index("--logging-config-file") + 1] == str(RASA_LOGGING_CONFIG)
    assert RASA_LOGGING_CONFIG.exists()


def test_finding_5_masked_records_keep_their_arguments_for_formatters_that_read_them():
    from akto_data.logs import install_masking

    install_masking()
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("tests.access")
    logger.addHandler(handler)
    try:
        logger.warning('%s - "%s %s" %d', "127.0.0.1", "GET", "/lien?mail=kevin@gmail.com", 200)
        logger.warning("contact %s%s", "0696 12", " 34 56")  # a number split over two arguments
    finally:
        logger.removeHandler(handler)
    access, split = records
    assert access.args == ("127.0.0.1", "GET", "/lien?mail=[e-mail]", 200)  # uvicorn's access log unpacks them
    assert access.getMessage() == '127.0.0.1 - "GET /lien?mail=[e-mail]" 200'
    assert split.getMessage() == "contact [téléphone]"


def test_finding_1_bot_token_in_a_library_debug_line_is_masked():
    """python-telegram-bot logs its API address, token included, at DEBUG level."""
    from akto_data.redact import mask_contacts

    line = "Calling Bot API endpoint `getMe` https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getMe"
    masked = mask_contacts(line)
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in masked and "123456789" not in masked and "[jeton]" in masked


def test_finding_5_database_errors_never_quote_the_row(sqlite_db):
    """SQLAlchemy puts the statement's parameters in an error's text unless told not to."""
    from sqlalchemy import text

    from akto_data.db import get_engine

    with get_engine().begin() as connection:
        connection.execute(text("CREATE TABLE t (v TEXT UNIQUE)"))
        connection.execute(text("INSERT INTO t VALUES (:v)"), {"v": "Kévin du Lamentin"})
    try:
        with get_engine().begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (:v)"), {"v": "Kévin du Lamentin"})
    except Exception as exc:  # IntegrityError
        assert "Kévin" not in str(exc), str(exc)
    else:
        raise AssertionError("the duplicate was accepted")
