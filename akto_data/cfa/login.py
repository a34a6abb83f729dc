"""Magic links that open the CFA portal: no password for a CFA to manage.

A CFA types one of its delivery addresses (:func:`akto_data.cfa.settings.delivery_for`);
we e-mail it a link holding a random token, of which only the SHA-256 is stored
(a copy of the database opens nothing). A link lasts :data:`LINK_LIFETIME`, opens one
session once (a compare-and-set on ``used_at``), and an address gets at most
:data:`PER_ADDRESS` links per :data:`WINDOW`, counted in the database so a restart or
a second console process does not reset it.

One address may serve several CFAs (a group of training centres with one shared
mailbox): one e-mail then carries one link per CFA, each naming its CFA, and the person
picks the centre whose leads they want to see. That request counts once for the
throttle.

The e-mail is sent now (:func:`akto_data.leads.delivery.send_email`), not queued: the
person is waiting in front of the page. When it cannot be sent, its links are deleted
(they reached nobody and must not count against the throttle) and the person is told
to try again.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from enum import StrEnum
from urllib.parse import quote, unquote, urlsplit

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from akto_data.catalogue.tables import CatCfa
from akto_data.cfa.models import CfaLoginLink
from akto_data.cfa.settings import delivery_for
from akto_data.i18n import text as t
from akto_data.leads.delivery import SmtpSettings, send_email
from akto_data.models import as_utc, utcnow

log = logging.getLogger(__name__)

LINK_LIFETIME = timedelta(minutes=30)
#: At most this many link e-mails per address in :data:`WINDOW`.
PER_ADDRESS, WINDOW = 3, timedelta(minutes=15)
#: Where a CFA lands after login when the link names no page.
HOME = "/cfa/demandes"
#: A link page is reachable by this path prefix only (no open redirect after login).
PORTAL_PREFIX = "/cfa/"
MAX_EMAIL_LENGTH = 254


class LinkRequest(StrEnum):
    """What :func:`request_link` did. The page says the same for SENT and UNKNOWN (no enumeration)."""

    SENT = "sent"
    UNKNOWN = "unknown"  # not a delivery address of any CFA: nothing sent
    THROTTLED = "throttled"
    FAILED = "failed"  # known address, but the e-mail could not be sent: try again


class LinkState(StrEnum):
    """What a token is worth when it is opened or used."""

    VALID = "valid"
    EXPIRED = "expired"
    USED = "used"
    UNKNOWN = "unknown"  # forged, mistyped, or deleted


@dataclass(frozen=True)
class OpenedLink:
    state: LinkState
    cfa_id: str | None = None
    email: str | None = None
    cfa_name: str | None = None


def normalise_email(address: str) -> str:
    """Addresses compare without case or surrounding spaces (mailboxes are case-insensitive in practice)."""
    return address.strip().lower()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def safe_next(target: str | None) -> str:
    """Only a page of the portal after login (never another site, never a staff page)."""
    decoded = unquote(target or "")  # browsers read %2e%2e as ".." in a path
    if (not target or not target.startswith(PORTAL_PREFIX) or "\\" in decoded or ".." in decoded
            or urlsplit(target).netloc or urlsplit(target).scheme):
        return HOME
    return target


def cfas_for_address(session: Session, address: str, now: datetime | None = None) -> list[CatCfa]:
    """The CFAs (of the catalogue) for which ``address`` is a delivery address in force."""
    wanted = normalise_email(address)
    if not wanted or len(wanted) > MAX_EMAIL_LENGTH:
        return []
    found = []
    for cfa in session.scalars(select(CatCfa).order_by(CatCfa.name)):
        delivery = delivery_for(session, cfa.id, now)
        if delivery is not None and wanted in {normalise_email(e) for e in delivery.emails}:
            found.append(cfa)
    return found


def recent_requests(session: Session, address: str, now: datetime) -> int:
    """Link e-mails sent to ``address`` in the last :data:`WINDOW` (one per request, whatever its CFA count)."""
    return session.scalar(select(func.count(func.distinct(CfaLoginLink.created_at))).where(
        CfaLoginLink.email == normalise_email(address), CfaLoginLink.created_at > now - WINDOW)) or 0


def request_link(session: Session, address: str, next_path: str | None, base_url: str,
                 smtp: SmtpSettings | None = None, now: datetime | None = None) -> LinkRequest:
    """E-mail a login link (one per CFA the address serves) to ``address`` if it is a delivery address.

    ``base_url`` is the portal's public address (``portal_base_url``); ``next_path`` the
    portal page to open after login.
    """
    now = now or utcnow()
    purge_links(session, now)
    cfas = cfas_for_address(session, address, now)
    if not cfas:
        return LinkRequest.UNKNOWN
    email = normalise_email(address)
    if recent_requests(session, email, now) >= PER_ADDRESS:
        return LinkRequest.THROTTLED
    target = safe_next(next_path)
    links: list[tuple[CatCfa, str]] = []
    rows = []
    for cfa in cfas:
        token = secrets.token_urlsafe(32)
        row = CfaLoginLink(token_hash=token_hash(token), cfa_id=cfa.id, email=email, created_at=now,
                           expires_at=now + LINK_LIFETIME)
        session.add(row)
        rows.append(row)
        url = f"{base_url.rstrip('/')}/cfa/lien/{token}"
        if target != HOME:
            url += f"?next={quote(target, safe='/')}"
        links.append((cfa, url))
    session.flush()
    smtp = smtp or SmtpSettings.from_env()
    try:
        send_email(login_email(links, email, smtp.sender), smtp)
    except Exception as exc:  # any failure: the person is told; their links reached nobody
        log.warning("CFA login link not sent (%s): %s", ", ".join(c.id for c, _ in links), type(exc).__name__)
        for row in rows:
            session.delete(row)
        session.flush()
        return LinkRequest.FAILED
    log.info("CFA login link sent (%s)", ", ".join(c.id for c, _ in links))
    return LinkRequest.SENT


def login_email(links: list[tuple[CatCfa, str]], to: str, sender: str) -> EmailMessage:
    """A short e-mail in the layout of every CFA e-mail (:mod:`akto_data.leads.emails`): one
    "Se connecter" button (one per CFA, naming it, when the address serves several), the
    link's lifetime, what to do if it was not you; HTML and plain text from the same texts."""
    from akto_data.leads.emails import Button, Email, build_message

    minutes = int(LINK_LIFETIME.total_seconds() // 60)
    many = len(links) > 1
    button = t("cfa.portal.login_email.button")
    buttons = [Button(t("cfa.portal.login_email.button_cfa", cfa=cfa.name) if many else button, url)
               for cfa, url in links]
    intro = t("cfa.portal.login_email.intro_many" if many else "cfa.portal.login_email.intro")
    email = Email(subject=t("cfa.portal.login_email.subject"), title=t("cfa.portal.login_email.title"),
                  preheader=intro, paragraphs=[t("cfa.portal.login_email.hello"), intro],
                  main_button=buttons[0], more_buttons=buttons[1:],
                  notes=[t("cfa.portal.login_email.expiry_many" if many else "cfa.portal.login_email.expiry",
                           minutes=minutes), t("cfa.portal.login_email.ignore")],
                  footer=[t("cfa.portal.login_email.footer"), t("cfa.portal.login_email.signature")])
    return build_message(email, [to], sender, make_msgid(domain="ici-cest-ma-place"))


def _cfa_name(session: Session, cfa_id: str) -> str | None:
    cfa = session.get(CatCfa, cfa_id)
    return cfa.name if cfa is not None else None


def _still_allowed(session: Session, link: CfaLoginLink, now: datetime) -> bool:
    """The CFA is still published and the address still one of its delivery addresses."""
    if session.get(CatCfa, link.cfa_id) is None:
        return False
    delivery = delivery_for(session, link.cfa_id, now)
    return delivery is not None and link.email in {normalise_email(e) for e in delivery.emails}


def peek_link(session: Session, token: str, now: datetime | None = None) -> OpenedLink:
    """What the token is worth, changing nothing (mail scanners open links before people do)."""
    now = now or utcnow()
    link = session.scalar(select(CfaLoginLink).where(CfaLoginLink.token_hash == token_hash(token)))
    if link is None:
        return OpenedLink(LinkState.UNKNOWN)
    if link.used_at is not None:
        return OpenedLink(LinkState.USED)
    if as_utc(link.expires_at) <= now or not _still_allowed(session, link, now):
        return OpenedLink(LinkState.EXPIRED)
    return OpenedLink(LinkState.VALID, link.cfa_id, link.email, _cfa_name(session, link.cfa_id))


def use_link(session: Session, token: str, now: datetime | None = None) -> OpenedLink:
    """Consume the token once: two clicks (or two tabs) at the same moment open one session."""
    now = now or utcnow()
    seen = peek_link(session, token, now)
    if seen.state is not LinkState.VALID:
        return seen
    digest = token_hash(token)
    taken = session.execute(update(CfaLoginLink).where(
        CfaLoginLink.token_hash == digest, CfaLoginLink.used_at.is_(None), CfaLoginLink.expires_at > now)
        .values(used_at=now).execution_options(synchronize_session=False))
    if not taken.rowcount:  # type: ignore[attr-defined]
        return OpenedLink(LinkState.USED)
    return seen


def purge_links(session: Session, now: datetime | None = None, keep: timedelta = timedelta(days=1)) -> int:
    """Delete links expired more than ``keep`` ago (they hold an address; the throttle needs only 15 minutes)."""
    now = now or utcnow()
    gone = session.execute(delete(CfaLoginLink).where(CfaLoginLink.expires_at < now - keep))
    return int(gone.rowcount or 0)  # type: ignore[attr-defined]
