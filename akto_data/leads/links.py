"""Signed links a CFA follows from the lead e-mail to update the lead's status.

A link names the lead (its idempotency key, not its row id) and the status, and
carries an HMAC-SHA256 of both: nobody can forge a status change for another lead
or another status. Webhook calls are signed with the CFA's secret over a timestamp
and the body, so a captured call cannot be replayed later, and during a secret rotation
with the previous secret too (see :func:`verify_webhook`, the reference a CFA's
developers can follow).
"""

from __future__ import annotations

import hashlib
import hmac
import time

from akto_data.settings import LEAD_LINKS_SECRET_MIN, lead_links_secret, load_settings

#: Statuses a CFA can set (portal), in the order they are offered. "refused" needs a reason.
CFA_STATUSES = ("read", "contacted", "interview", "enrolled", "not_reachable", "refused")
#: Statuses a CFA sets with one click from the e-mail (signed links; "read" stays valid for old e-mails).
EMAIL_STATUSES = ("contacted", "interview", "enrolled", "not_reachable")
#: Statuses the signed links accept.
LINK_STATUSES = ("read", *EMAIL_STATUSES)
#: A webhook call older or newer than this (seconds) must be refused by the receiver.
WEBHOOK_TOLERANCE = 300


def link_signature(lead_key: str, status: str, secret: bytes | None = None) -> str:
    key = secret if secret is not None else lead_links_secret()
    if len(key) < LEAD_LINKS_SECRET_MIN:  # an empty key would make every link forgeable
        raise ValueError("clé des liens absente ou trop courte")
    return hmac.new(key, f"{lead_key}:{status}".encode(), hashlib.sha256).hexdigest()


def status_url(lead_key: str, status: str) -> str:
    base = load_settings().lead_links_base_url
    return f"{base}/lead/{lead_key}/{status}?sig={link_signature(lead_key, status)}"


def valid_link(lead_key: str, status: str, signature: str) -> bool:
    """Whether ``signature`` is ours for this lead and status.

    Compared as bytes: ``hmac.compare_digest`` raises on non-ASCII text, and a link
    with ``?sig=%C3%A9`` used to drop the connection instead of getting a page.
    """
    if status not in LINK_STATUSES or not signature:
        return False
    expected = link_signature(lead_key, status).encode()
    return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))


def body_signature(body: bytes, secret: str, timestamp: int) -> str:
    """``X-Signature`` header of a webhook call: ``sha256=<hex HMAC of "<timestamp>." + raw body>``.

    ``timestamp`` (Unix seconds) travels in ``X-Signature-Timestamp``; signing it with
    the body lets the receiver refuse an old call replayed by whoever captured it.
    """
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_webhook(body: bytes, timestamp: str, signature: str, secret: str, now: float | None = None,
                   tolerance: int = WEBHOOK_TOLERANCE, previous_signature: str | None = None) -> bool:
    """What a CFA's server checks on each call (reference implementation, documented in the README).

    1. ``X-Signature-Timestamp`` is an integer within ``tolerance`` seconds of the
       receiver's clock (5 minutes): an older call is a replay, refuse it;
    2. ``X-Signature`` equals ``sha256=`` + hex HMAC-SHA256 (key: the shared
       ``webhook_secret``) of the timestamp, a dot, and the raw body, compared in
       constant time;
    3. then ``X-Lead-Key`` drops a lead already received (a resend after a crash
       carries the same key, with a fresh timestamp and signature).

    Secret rotation: after a CFA sets a new secret in the portal, each call is signed
    with the new one in ``X-Signature`` and, until the end of the overlap period, with
    the previous one in ``X-Signature-Previous`` (same timestamp, same body). A receiver
    accepts the call when ITS secret matches either header (pass both: ``signature`` and
    ``previous_signature``), so it can switch to the new secret at any time during the
    overlap. ``X-Signature`` keeps its meaning: a receiver that knows only that header
    and the current secret works as before.
    """
    try:
        moment = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - moment) > tolerance:
        return False
    expected = body_signature(body, secret, moment).encode()
    matches = [hmac.compare_digest(expected, (given or "").encode("utf-8", "replace"))
               for given in (signature, previous_signature) if given]
    return any(matches)
