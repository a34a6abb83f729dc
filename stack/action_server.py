"""The action server (rasa-sdk), refusing every caller but our Rasa.

``python -m rasa_sdk`` answers any local process: anyone on the machine could run
our actions for any chat id (submit a lead, read what the catalogue says to a given
conversation). This launcher builds the same Sanic app as rasa-sdk and adds one
check before every route except ``/health``: the request must carry the shared
secret ``ACTION_SERVER_TOKEN`` in the ``X-Action-Token`` header (Rasa sends it, see
``endpoints.yml``), else 401. A header, not rasa-sdk's usual ``?token=`` query
parameter, so the secret never appears in a URL or an access log. Without the
variable the server refuses to start: it fails closed.

It also brings the database schema up to date once, at start (the actions no longer
migrate inside a request), and runs in a single process so the launcher's stop
signal reaches it directly.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

TOKEN_HEADER = "X-Action-Token"
OPEN_PATHS = frozenset({"/health"})

log = logging.getLogger(__name__)


def guarded_app(executor: ActionExecutor, token: str) -> Sanic:
    """rasa-sdk's app with the token check in front of every route but ``/health``."""
    if not token:
        raise ValueError("ACTION_SERVER_TOKEN is required")
    app = create_app(executor, cors_origins=None)
    expected = token.encode()

    @app.on_request
    async def require_token(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        provided = (request.headers.get(TOKEN_HEADER) or "").encode()
        if hmac.compare_digest(provided, expected):
            return None
        return response.json({"error": "unauthorized"}, status=401)

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--host", default=os.environ.get("SANIC_HOST", "127.0.0.1"))
    args = parser.parse_args(argv)
    from akto_data.logs import configure_logging

    configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
    token = os.environ.get("ACTION_SERVER_TOKEN", "")
    if not token:
        print("ACTION_SERVER_TOKEN manquant : le serveur d'actions ne démarre pas sans lui.", file=sys.stderr)
        return 2
    from akto_data.db import create_schema

    create_schema()
    executor = ActionExecutor()
    executor.register_package("actions")
    app = guarded_app(executor, token)
    log.info("action server on http://%s:%d (token required)", args.host, args.port)
    app.run(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
