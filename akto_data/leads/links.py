"""Signed links a CFA follows from the lead e-mail to update the lead's status.

A link names the lead (its idempotency key, not its row id) and the status, and
carries an HMAC-SHA256 of both: nobody can forge a status change for another lead
or another status. Webhook bodies are signed the same way with the CFA's secret.
"""

from __future__ import annotations

import hashlib
import hmac

from akto_data.settings import lead_links_secret, load_settings

#: Statuses a CFA can set, in the order they appear in the e-mail.
CFA_STATUSES = ("read", "contacted", "enrolled", "not_reachable")


def link_signature(lead_key: str, status: str, secret: bytes | None = None) -> str:
    key = secret if secret is not None else lead_links_secret()
    return hmac.new(key, f"{lead_key}:{status}".encode(), hashlib.sha256).hexdigest()


def status_url(lead_key: str, status: str) -> str:
    base = load_settings().lead_links_base_url
    return f"{base}/lead/{lead_key}/{status}?sig={link_signature(lead_key, status)}"


def valid_link(lead_key: str, status: str, signature: str) -> bool:
    return status in CFA_STATUSES and hmac.compare_digest(link_signature(lead_key, status), signature or "")


def body_signature(body: bytes, secret: str) -> str:
    """``X-Signature`` header of a webhook call: ``sha256=<hex HMAC of the raw body>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
