"""HTTP client of Rasa's REST channel (``/webhooks/rest/webhook``).

Rasa runs in its own Python 3.10 environment and is reached over HTTP on
127.0.0.1, as in production. Its REST webhook has no authentication, which is why
it must never listen on a public interface.
"""

from __future__ import annotations

from typing import Any

import httpx


class RasaUnavailable(Exception):
    """Rasa did not answer in time, or answered with an error."""


class RasaClient:
    """Sends one user message and returns Rasa's list of bot messages."""

    def __init__(self, base_url: str, read_timeout: float = 60.0, connect_timeout: float = 3.0) -> None:
        # A long read timeout on purpose: a slow answer is still worth delivering after
        # the apology (see :mod:`bot.conversation`); a refused connection fails at once.
        self._url = f"{base_url.rstrip('/')}/webhooks/rest/webhook"
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(read_timeout, connect=connect_timeout))

    async def send(self, sender: str, message: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            response = await self._client.post(
                self._url, json={"sender": sender, "message": message, "metadata": metadata}
            )
            response.raise_for_status()
            payload = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(payload, list):
            raise RasaUnavailable(f"unexpected answer: {payload!r}")
        return payload

    async def remembered(self, sender: str, names: tuple[str, ...]) -> dict[str, Any]:
        """Slots Rasa remembers for ``sender`` (empty if Rasa is unreachable or knows nothing)."""
        base = self._url.removesuffix("/webhooks/rest/webhook")
        try:
            response = await self._client.get(f"{base}/conversations/{sender}/tracker")
            response.raise_for_status()
            slots = response.json().get("slots") or {}
        except (httpx.HTTPError, ValueError):
            return {}
        return {name: slots[name] for name in names if slots.get(name) not in (None, "")}

    async def aclose(self) -> None:
        await self._client.aclose()
