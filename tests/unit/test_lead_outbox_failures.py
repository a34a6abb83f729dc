"""Issue 10, findings 3, 6, 12 and 15: what reaches a CFA, and what happens when a CFA's
receiver fails — every failure recorded on its row, each send bounded in time, permanent
refusals and exhausted retries given up and listed for staff; SMTP with TLS and login;
one worker per SQLite database."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from akto_data.catalogue.schema import Checker, check_delivery
from akto_data.catalogue.tables import CatCfaDelivery
from akto_data.db import session_scope
from akto_data.leads import failed
from akto_data.leads.delivery import OutboxWorker, SmtpSettings
from akto_data.leads.models import Lead, OutboxMessage
from akto_data.leads.outbox import MAX_ATTEMPTS
from akto_data.leads.store import create_lead
from akto_data.models import utcnow
from akto_data.settings import PROJECT_ROOT
from tests.unit.test_lead_delivery import Inbox, free_port, lead_data
from tests.unit.test_lead_lifecycle import TYPED_PHONE, Receiver


@pytest.fixture(autouse=True)
def link_secret(monkeypatch):
    monkeypatch.setenv("LEAD_LINKS_SECRET", "a-long-enough-test-secret")


@pytest.fixture
def smtp(smtp_inbox):
    return smtp_inbox


def rows():
    with session_scope() as session:
        return [(m.lead_id, m.channel, m.state, m.attempts, m.last_error or "")
                for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def set_webhook(url: str, cfa_id: str = "mq_umih") -> None:
    with session_scope() as session:
        delivery = session.get(CatCfaDelivery, cfa_id)
        delivery.webhook_url, delivery.webhook_secret = url, "s3cret-shared-with-the-cfa"


class TrickleServer:
    """A receiver that answers one byte every ``every`` seconds (after ``first``), for ``lasting`` seconds."""

    def __init__(self, first: bytes, every: float = 0.5, lasting: float = 10.0) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.first, self.every, self.lasting = first, every, lasting
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(client,), daemon=True).start()

    def _trickle(self, client: socket.socket) -> None:
        with client:
            try:
                client.settimeout(0.2)
                with contextlib.suppress(TimeoutError):
                    client.recv(65536)  # the request, if the client speaks first
                client.sendall(self.first)
                ends = time.monotonic() + self.lasting
                while time.monotonic() < ends:
                    client.sendall(b"a")
                    time.sleep(self.every)
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()


def test_finding_6_bad_webhook_url_does_not_block_outbox(catalogue, smtp):
    inbox, port = smtp
    set_webhook("https://[::1/hook")  # passed the old content check, raised httpx.InvalidURL on send
    first = create_lead(lead_data(chat_id="1"), "v1")
    second = create_lead(lead_data(chat_id="2", cfa_id="mq_cma", rome="D1102"), "v1")
    assert OutboxWorker(SmtpSettings(port=port)).run_once() == 2
    assert {m["X-Lead-Key"] for _, m in inbox.messages} == {first.idempotency_key, second.idempotency_key}
    webhook = [r for r in rows() if r[1] == "webhook"]
    assert [(state, attempts) for _, _, state, attempts, _ in webhook] == [("failed", 1)]  # not retried hourly
    assert "webhook_url invalide" in webhook[0][4]


def test_finding_6_webhook_url_checked_by_parsing_in_content_check():
    checker = Checker("cfa_delivery.yml")
    data = {"cfa_delivery": {
        "a": {"email": "a@cfa.example", "webhook_url": "https://[::1/hook", "webhook_secret": "x" * 16},
        "b": {"email": "b@cfa.example", "webhook_url": "http://localhost@evil.example/", "webhook_secret": "x" * 16},
        "c": {"email": "c@cfa.example", "webhook_url": "https://cfa.example/leads", "webhook_secret": "x" * 16},
        "d": {"email": "d@cfa.example", "webhook_url": "https://user:pw@cfa.example/", "webhook_secret": "x" * 16},
    }}
    check_delivery(data, checker, {"a", "b", "c", "d"})
    assert sorted(e.entry for e in checker.errors) == ["a", "b", "d"]


def test_finding_12_https_only_check_parses_the_url_instead_of_a_prefix():
    checker = Checker("cfa_delivery.yml")
    check_delivery({"cfa_delivery": {"a": {"email": "a@cfa.example", "webhook_url": "http://localhost@evil.example/",
                                           "webhook_secret": "x" * 16}}}, checker, {"a"})
    assert len(checker.errors) == 1 and "user@" in str(checker.errors[0].problem)


def test_finding_6_slow_webhook_is_cut_at_the_total_deadline(catalogue):
    slow = TrickleServer(b"HTTP/1.1 200 OK\r\nX-Slow: ")  # headers that never end, one byte per 0.5 s
    set_webhook(f"http://127.0.0.1:{slow.port}/hook")
    create_lead(lead_data(), "v1")
    started = time.monotonic()
    try:
        OutboxWorker(SmtpSettings(port=free_port(), timeout=1), deadline=1.5).run_once()
    finally:
        slow.close()
    assert time.monotonic() - started < 4  # per-read timeouts alone held it for the whole trickle
    webhook = [r for r in rows() if r[1] == "webhook"][0]
    assert webhook[2] == "pending" and "délai" in webhook[4]


def test_finding_6_slow_smtp_server_is_cut_at_the_total_deadline(catalogue):
    slow = TrickleServer(b"220 ")  # a greeting that never ends
    create_lead(lead_data(), "v1")
    started = time.monotonic()
    try:
        OutboxWorker(SmtpSettings(port=slow.port, timeout=1), deadline=1.5).run_once()
    finally:
        slow.close()
    assert time.monotonic() - started < 4
    (email,) = rows()
    assert email[2] == "pending" and email[3] == 1 and "délai" in email[4]


class RefusingInbox(Inbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 no such mailbox"


def test_finding_6_permanent_refusals_stop_and_are_listed_for_staff(catalogue, capsys):
    receiver = Receiver()
    port = free_port()
    controller = Controller(RefusingInbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        set_webhook(f"{receiver.url}/missing")  # the receiver answers 200 to POST... on any path, so:
        receiver.server.RequestHandlerClass.do_POST = lambda self: (self.send_response(404), self.end_headers())
        create_lead(lead_data(message="Rappelez-moi au 0696 11 22 33"), "v1")
        worker = OutboxWorker(SmtpSettings(port=port))
        worker.run_once()
        later = OutboxWorker(SmtpSettings(port=port), clock=lambda: utcnow() + timedelta(hours=5))
        assert later.run_once() == 0
    finally:
        controller.stop()
        receiver.close()
    assert [(channel, state, attempts) for _, channel, state, attempts, _ in rows()] == [
        ("email", "failed", 1), ("webhook", "failed", 1)]  # asked once, not every hour for ever
    assert failed.main([]) == 0
    listing = capsys.readouterr().out
    assert "2 envoi(s) abandonné(s)" in listing and "SMTP" in listing and "HTTP 404" in listing
    assert "mq_umih" in listing and "Léa" not in listing and not TYPED_PHONE.search(listing) and "Rappelez" not in listing
    assert failed.main(["--retry", "all"]) == 0
    assert [state for _, _, state, _, _ in rows()] == ["pending", "pending"]


def test_finding_6_transient_failures_give_up_after_48_hours(catalogue):
    create_lead(lead_data(), "v1")
    now = [utcnow()]
    worker = OutboxWorker(SmtpSettings(port=free_port(), timeout=1), clock=lambda: now[0])
    for _ in range(MAX_ATTEMPTS + 3):
        worker.run_once()
        now[0] += timedelta(hours=1, minutes=1)
    ((_, _, state, attempts, error),) = rows()
    assert (state, attempts) == ("failed", MAX_ATTEMPTS) and "Connection refused" in error
    assert now[0] - utcnow() > timedelta(hours=48)


def test_finding_3_message_cannot_add_fake_rows_to_the_cfa_email(catalogue, smtp):
    inbox, port = smtp
    fake = ("Bonjour\nScore de qualification : 100/100\nContact : téléphone 0690 00 00 00\n"
            "Lu : https://evil.example/lead\n<b>gras</b>")
    create_lead(lead_data(message=fake), "v1")
    assert OutboxWorker(SmtpSettings(port=port)).run_once() == 1
    email = inbox.messages[0][1]
    page = email.get_body(("html",)).get_content()
    assert page.count(">Score de qualification</th>") == 1 and page.count(">Contact</th>") == 1
    assert re.search(r">Score de qualification</th><td>(\d+)/100<", page).group(1) != "100"
    assert "<b>gras</b>" not in page and "&lt;b&gt;gras&lt;/b&gt;" in page
    assert "href='https://evil.example" not in page
    text = email.get_body(("plain",)).get_content()
    card_lines = [line for line in text.splitlines() if line.startswith("Score de qualification")]
    assert len(card_lines) == 1 and card_lines[0] != "Score de qualification : 100/100"
    assert "> Score de qualification : 100/100" in text  # quoted inside the young person's message


def make_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


class Logins:
    def __init__(self) -> None:
        self.seen: list[tuple[bytes, bytes]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        self.seen.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"pass-word")


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_finding_15_smtp_over_tls_with_login(catalogue, tmp_path, security):
    cert, key = make_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox, logins, port = Inbox(), Logins(), free_port()
    # aiosmtpd's auth_require_tls knows STARTTLS only; with implicit TLS the whole session is encrypted.
    options = {"tls_context": context, "require_starttls": True, "auth_require_tls": True} \
        if security == "starttls" else {"ssl_context": context, "auth_require_tls": False}
    controller = Controller(inbox, hostname="127.0.0.1", port=port, auth_required=True, authenticator=logins,
                            server_hostname="localhost", **options)
    controller.start()
    try:
        lead = create_lead(lead_data(), "v1")
        wrong = OutboxWorker(SmtpSettings(host="localhost", port=port, security=security, username="cfa-relay",
                                          password="wrong", ca_file=str(cert), timeout=3))
        # Refused login: kept for retry, nothing sent (after refusing PLAIN, smtplib's LOGIN attempt
        # hangs on aiosmtpd: the send's total deadline ends it).
        assert wrong.run_once() == 0
        right = OutboxWorker(SmtpSettings(host="localhost", port=port, security=security, username="cfa-relay",
                                          password="pass-word", ca_file=str(cert)),
                             clock=lambda: utcnow() + timedelta(minutes=1))
        assert right.run_once() == 1
    finally:
        controller.stop()
    assert [m["X-Lead-Key"] for _, m in inbox.messages] == [lead.idempotency_key]
    assert logins.seen[-1] == (b"cfa-relay", b"pass-word")


def test_finding_15_smtp_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("SMTP_HOST", "smtp.example")
    monkeypatch.setenv("SMTP_SECURITY", "starttls")
    monkeypatch.setenv("SMTP_USERNAME", "relay")
    monkeypatch.setenv("SMTP_PASSWORD", "pw")
    monkeypatch.setenv("SMTP_TIMEOUT", "12")
    monkeypatch.delenv("SMTP_PORT", raising=False)
    settings = SmtpSettings.from_env()
    assert (settings.port, settings.security, settings.username, settings.timeout) == (587, "starttls", "relay", 12)
    assert "pw" not in repr(settings)
    monkeypatch.setenv("SMTP_SECURITY", "none")  # a password in clear to a remote server: refused
    with pytest.raises(ValueError):
        SmtpSettings.from_env()
    monkeypatch.setenv("SMTP_SECURITY", "tls13")
    with pytest.raises(ValueError):
        SmtpSettings.from_env()


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "akto_data.leads.worker"], cwd=PROJECT_ROOT, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)


def wait_for(log: Path, marker: str, timeout: float = 60) -> bool:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if marker in log.read_text():
            return True
        time.sleep(0.2)
    return False


def test_finding_15_second_worker_on_sqlite_waits_for_the_first(catalogue, tmp_path):
    env = dict(os.environ, LEAD_LINKS_PORT="0", SMTP_PORT=str(free_port()), PYTHONPATH=str(PROJECT_ROOT))
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start_worker(env, first_log)
    second = None
    try:
        assert wait_for(first_log, "OUTBOX_READY"), first_log.read_text()
        second = start_worker(env, second_log)
        assert wait_for(second_log, "OUTBOX_WAITING"), second_log.read_text()
        time.sleep(1)
        assert "OUTBOX_READY" not in second_log.read_text()  # two senders on SQLite would send twice
        first.terminate()
        first.wait(timeout=30)
        assert wait_for(second_log, "OUTBOX_READY"), second_log.read_text()
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
    with session_scope() as session:
        assert session.scalars(select(Lead)).first() is None  # nothing to send: just the lock
