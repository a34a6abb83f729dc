"""The bot's side of the ``telegram-test-api`` emulator (tests/emulator), for tests and ``make load``.

:class:`EmulatorBridge` bridges the emulator's known gaps on the bot's HTTP requests
only (the product talks to the real Bot API unchanged):
- ``getMe`` has no ``is_bot``;
- dates are in milliseconds;
- callback queries have no ``chat_instance``;
- edits return ``null`` instead of ``true``/the message.
Used by the e2e tests (tests/e2e) and by ``make load --telegram``, which runs the bot in
a process of its own against the emulator (stack must not import tests).
"""

from __future__ import annotations

import json
from typing import Any

from telegram.request import HTTPXRequest


def _fix_dates(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (v // 1000 if k == "date" and isinstance(v, int) and v > 10**11 else _fix_dates(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_fix_dates(v) for v in value]
    return value


class EmulatorBridge(HTTPXRequest):
    async def do_request(self, url, method, request_data=None, **kwargs):  # type: ignore[no-untyped-def, override]
        endpoint = url.rsplit("/", 1)[-1]
        code, body = await super().do_request(url, method, request_data, **kwargs)
        try:
            data = json.loads(body)
        except ValueError:
            return code, body
        if data.get("ok"):
            result = _fix_dates(data.get("result"))
            if endpoint == "getMe":
                result.setdefault("is_bot", True)
            elif endpoint.startswith("edit") and result is None:
                result = True
            elif endpoint == "getUpdates":
                for update in result:
                    if "callback_query" in update:
                        update["callback_query"].setdefault("chat_instance", "emulator")
            data["result"] = result
        return code, json.dumps(data).encode()
