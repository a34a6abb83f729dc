"""The small web page behind the signed links of lead e-mails (FastAPI, served by uvicorn).

``GET /lead/<key>/<status>?sig=…`` shows what the click will do and a button;
``POST`` to the same address records it. A GET never changes anything: mail
scanners open links on their own, and they must not mark a lead as read.
Served by the outbox worker process in a thread (:func:`serve_in_background`, bound
to 127.0.0.1 by default; put a reverse proxy with TLS in front in production).

Handlers are thin: the link check is :func:`akto_data.leads.links.valid_link`, the
change is :func:`akto_data.leads.lifecycle.apply_status`. Logs say the method and
the answer's code, never the path (it holds the lead's key and the signature).
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.protocols.http.h11_impl import H11Protocol

from akto_data.db import session_scope
from akto_data.i18n import text as t
from akto_data.leads.lifecycle import StatusChange, apply_status
from akto_data.leads.links import valid_link
from akto_data.leads.models import Lead

log = logging.getLogger(__name__)
KEY = re.compile(r"^[0-9a-f]{8,64}$")
#: A connection, slow or idle, is closed after this many seconds (the page's exchanges take milliseconds).
CONNECTION_DEADLINE = 20.0
#: Seconds an idle keep-alive connection is kept.
KEEP_ALIVE = 5


def _page(code: int, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang='fr'><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width'><title>{html.escape(t('lead.page.title'))}</title>"
        f"<body style='font-family:sans-serif;max-width:32em;margin:2em auto'>{body}</body></html>",
        status_code=code, headers={"Cache-Control": "no-store"})


def _say(code: int, key: str, **values: object) -> HTMLResponse:
    return _page(code, f"<p>{html.escape(t(key, **values))}</p>")


def _invalid() -> HTMLResponse:
    return _say(404, "lead.page.invalid")


def _lead_exists(key: str) -> bool:
    with session_scope() as session:
        lead = session.scalars(select(Lead).where(Lead.idempotency_key == key)).first()
        return lead is not None and lead.anonymised_at is None


def create_app() -> FastAPI:
    """The status page as an ASGI app (the web staff console will sit beside it)."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def log_without_path(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        log.info("status page: %s %s", request.method, response.status_code)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        return _invalid() if exc.status_code in (404, 405) else _say(exc.status_code, "lead.page.invalid")

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, _exc: RequestValidationError) -> HTMLResponse:
        return _invalid()

    @app.api_route("/lead/{key}/{status}", methods=["GET", "HEAD"])
    def confirm(key: str, status: str, sig: str = "") -> HTMLResponse:
        if not KEY.match(key) or not valid_link(key, status, sig):
            return _invalid()
        if not _lead_exists(key):
            return _say(410, "lead.page.gone")
        label = t(f"lead.status.{status}")
        return _page(200, f"<p>{html.escape(t('lead.page.confirm', status=label))}</p>"
                          f"<form method='post'><button type='submit'>{html.escape(label)}</button></form>")

    @app.post("/lead/{key}/{status}")
    def record(key: str, status: str, sig: str = "") -> HTMLResponse:
        if not KEY.match(key) or not valid_link(key, status, sig):
            return _invalid()
        with session_scope() as session:
            outcome = apply_status(session, key, status, by="cfa")
            current = session.scalars(select(Lead.status).where(Lead.idempotency_key == key)).first()
        label = t(f"lead.status.{status}")
        if outcome is StatusChange.GONE:
            return _say(410, "lead.page.gone")
        if outcome is StatusChange.BACKWARDS:
            return _say(409, "lead.page.backwards", status=label, current=_status_label(current))
        if outcome is StatusChange.UNCHANGED:
            return _say(200, "lead.page.unchanged", status=label)
        return _say(200, "lead.page.done", status=label)

    return app


def _status_label(status: str | None) -> str:
    try:
        return t(f"lead.status.{status}")
    except KeyError:  # not a status a CFA sets
        return str(status)


class _DeadlineH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a cap on each connection's life.

    uvicorn times out idle keep-alive connections only; a client that opens a
    connection and sends its request a byte at a time would hold it for ever.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline = self.loop.call_later(CONNECTION_DEADLINE, self._too_slow)

    def _too_slow(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline.cancel()
        super().connection_lost(exc)


class StatusPageServer:
    """uvicorn serving :func:`create_app` in a thread of the worker process."""

    def __init__(self, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.create_server((host, port), family=family)  # OSError now if the port is taken
        self.server_port: int = self.socket.getsockname()[1]
        config = uvicorn.Config(create_app(), log_config=None, access_log=False, lifespan="off",
                                http=_DeadlineH11Protocol, timeout_keep_alive=KEEP_ALIVE, limit_concurrency=64,
                                server_header=False, timeout_graceful_shutdown=5)
        # uvicorn's access log prints the path, which holds the lead's key and the signature.
        logging.getLogger("uvicorn.access").disabled = True
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]},
                                       name="lead-status-page", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:
            self.socket.close()
            raise OSError(f"la page de suivi n'a pas démarré sur le port {port}")

    def shutdown(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


def serve_in_background(host: str, port: int) -> StatusPageServer:
    return StatusPageServer(host, port)
