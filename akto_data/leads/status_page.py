"""The small web page behind the signed links of lead e-mails.

``GET /lead/<key>/<status>?sig=…`` shows what the click will do and a button;
``POST`` to the same address records it. A GET never changes anything: mail
scanners open links on their own, and they must not mark a lead as read.
Served by the outbox worker process (stdlib HTTP server, bound to 127.0.0.1 by
default; put a reverse proxy with TLS in front in production).
"""

from __future__ import annotations

import html
import logging
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from akto_data.i18n import text as t
from akto_data.leads.lifecycle import apply_status
from akto_data.leads.links import valid_link

log = logging.getLogger(__name__)
PATH = re.compile(r"^/lead/([0-9a-f]{8,64})/([a-z_]+)$")


def _page(body: str) -> bytes:
    return (f"<!doctype html><html lang='fr'><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width'><title>{html.escape(t('lead.page.title'))}</title>"
            f"<body style='font-family:sans-serif;max-width:32em;margin:2em auto'>{body}</body></html>").encode()


class StatusHandler(BaseHTTPRequestHandler):
    server_version = "lead-status"

    def _target(self) -> tuple[str, str, str] | None:
        parts = urlsplit(self.path)
        match = PATH.match(parts.path)
        if not match:
            return None
        signature = (parse_qs(parts.query).get("sig") or [""])[0]
        key, status = match.groups()
        return (key, status, signature) if valid_link(key, status, signature) else None

    def _reply(self, code: HTTPStatus, body: str) -> None:
        payload = _page(body)
        self.send_response(code)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        target = self._target()
        if target is None:
            self._reply(HTTPStatus.NOT_FOUND, f"<p>{html.escape(t('lead.page.invalid'))}</p>")
            return
        label = t(f"lead.status.{target[1]}")
        self._reply(HTTPStatus.OK, (
            f"<p>{html.escape(t('lead.page.confirm', status=label))}</p>"
            f"<form method='post'><button type='submit'>{html.escape(label)}</button></form>"))

    def do_POST(self) -> None:
        target = self._target()
        if target is None:
            self._reply(HTTPStatus.NOT_FOUND, f"<p>{html.escape(t('lead.page.invalid'))}</p>")
            return
        key, status, _ = target
        apply_status(key, status, by="cfa")
        self._reply(HTTPStatus.OK, f"<p>{html.escape(t('lead.page.done', status=t(f'lead.status.{status}')))}</p>")

    def log_message(self, format: str, *args: object) -> None:  # keys and signatures stay out of logs
        log.info("status page: %s %s", self.command, HTTPStatus(int(args[1])).phrase if len(args) > 1 else "")


def serve_in_background(host: str, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), StatusHandler)
    threading.Thread(target=server.serve_forever, name="lead-status-page", daemon=True).start()
    return server
