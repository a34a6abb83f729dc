"""Live takeover: the queue of conversations waiting for an advisor, and what happens to
each message while an advisor answers.

How the pieces meet (the bot alone holds the Telegram token):

- The action server records a request (:func:`request_takeover`): the young person
  asked for a human (``asked``), or missed twice in a row (``fallback``, silent). One
  open request per chat; asking again while one waits changes nothing but the reason.
- The console shows the queue of the advisor's territories (a request whose territory
  is unknown is shown to every advisor), and an advisor takes one over
  (:func:`take`): the assistant is paused for that chat, and a notice is queued.
- Advisor replies and notices are rows of ``app_takeover_message`` with a delivery
  state; the bot claims them with a short lease, sends them (its pacing, HTML
  escaping) and records the result (:func:`claim_outgoing`, :func:`record_outgoing`).
- Before calling Rasa, the bot asks :func:`route_incoming`: during a takeover the
  young person's message is stored for the advisor instead; ``/annuler`` ends it.
- The assistant resumes when the advisor hands back (:func:`hand_back`), the young
  person types ``/annuler``, or nobody wrote for ``TAKEOVER_SILENCE_MINUTES``
  (:func:`close_silent`, run by the bot's loop), and says so.

Duty (decision): an advisor is on duty when they switched "de permanence" on in the
console *and* their queue page polled in the last :data:`PRESENCE` (a page left
open at home with the switch off, or a switch left on with the page closed, does
not count). Staff and admins count for every territory. When nobody covering the
territory is on duty, the young person is told when someone will answer: the next
opening of the office hours (``TAKEOVER_HOURS``, weekdays, public holidays of the
territory excepted, in the territory's time zone from ``content/territories.yml``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, cast
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import CursorResult, Result, delete, or_, select, update
from sqlalchemy.orm import Session

from akto_data.catalogue.tables import CatTerritory
from akto_data.db import session_scope
from akto_data.i18n import text as t
from akto_data.leads.outbox import SendFailed, error_text
from akto_data.models import as_utc, utcnow
from akto_data.settings import Settings, load_settings
from akto_data.staff.models import StaffAccount
from akto_data.takeover.models import AdvisorDuty, TakeoverMessage, TakeoverRequest

WAITING, ACTIVE, CLOSED = "waiting", "active", "closed"
OPEN = (WAITING, ACTIVE)
ASKED, FALLBACK = "asked", "fallback"
YOUNG, ADVISOR, SYSTEM = "young", "advisor", "system"
PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
#: A queue page that polled within this delay counts as present.
PRESENCE = timedelta(seconds=60)
#: How long a message claimed by a bot is reserved for it.
LEASE = timedelta(seconds=30)
#: Retries of a message Telegram did not take: a chat cannot wait the outbox's 30 s.
RETRY = (timedelta(seconds=2), timedelta(seconds=5), timedelta(seconds=15), timedelta(seconds=60))
MAX_ATTEMPTS = 8
#: Longest advisor reply (Telegram's limit is 4096 after escaping).
MAX_REPLY = 3500


class TakeoverError(Exception):
    """A console action that cannot be done, with the French reason shown on the page."""


class Routing(StrEnum):
    """What the bot does with a young person's message."""

    ASSISTANT = "assistant"  # no takeover: Rasa answers
    TO_ADVISOR = "to_advisor"  # stored for the advisor, Rasa not called
    ENDED = "ended"  # /annuler during a takeover: the assistant is back
    WITHDRAWN = "withdrawn"  # /annuler while waiting: the request leaves the queue, Rasa answers too


# -- office hours and duty ---------------------------------------------------------------

def office_hours(settings: Settings) -> tuple[time, time]:
    """``TAKEOVER_HOURS`` (``08:00-17:00``) as two local times."""
    start, _, end = settings.takeover_hours.partition("-")
    opens, closes = time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    if closes <= opens:
        raise ValueError(f"TAKEOVER_HOURS invalide : {settings.takeover_hours!r} (ex. 08:00-17:00)")
    return opens, closes


def hour_text(moment: time) -> str:
    """``8 h``, ``8 h 30``."""
    return f"{moment.hour} h" + (f" {moment.minute:02d}" if moment.minute else "")


def _open_day(day: date, territory: str | None) -> bool:
    from akto_data.leads.lifecycle import public_holidays  # lifecycle -> retention -> personal_data -> here

    return day.weekday() < 5 and day not in public_holidays(territory)


def next_opening(now: datetime, territory: str | None, zone: str, settings: Settings) -> datetime | None:
    """The next opening of the office hours in ``zone`` (local time), ``None`` when open now."""
    opens, closes = office_hours(settings)
    local = now.astimezone(ZoneInfo(zone))
    if _open_day(local.date(), territory) and opens <= local.time() < closes:
        return None
    day = local.date() if local.time() < opens else local.date() + timedelta(days=1)
    while not _open_day(day, territory):
        day += timedelta(days=1)
    return datetime.combine(day, opens, tzinfo=ZoneInfo(zone))


def when_text(opening: datetime, now: datetime) -> str:
    """``aujourd'hui à partir de 8 h``, ``demain …``, ``lundi 7 décembre …``."""
    local_now = now.astimezone(opening.tzinfo)
    days = (opening.date() - local_now.date()).days
    if days == 0:
        day = t("takeover.day.today")
    elif days == 1:
        day = t("takeover.day.tomorrow")
    else:
        day = format_date(opening.date(), format="EEEE d MMMM", locale="fr_FR")
    return t("takeover.when", day=day, hour=hour_text(opening.time()))


def _covers(account: StaffAccount, territory: str | None) -> bool:
    if account.role != "advisor" or not account.territories or territory is None:
        return True
    return territory in account.territories


def advisors_on_duty(session: Session, territory: str | None, now: datetime) -> int:
    """Accounts on duty and present that answer for ``territory`` (unknown: any)."""
    rows = session.execute(select(StaffAccount, AdvisorDuty.seen_at).join(
        AdvisorDuty, AdvisorDuty.account_id == StaffAccount.id).where(
        AdvisorDuty.on_duty.is_(True), StaffAccount.active.is_(True))).all()
    return sum(1 for account, seen in rows
               if seen is not None and as_utc(seen) >= now - PRESENCE and _covers(account, territory))


def _duty(session: Session, account_id: int) -> AdvisorDuty:
    duty = session.get(AdvisorDuty, account_id)
    if duty is None:
        duty = AdvisorDuty(account_id=account_id, on_duty=False)
        session.add(duty)
    return duty


def set_duty(session: Session, account_id: int, on_duty: bool, now: datetime) -> bool:
    """Switch "de permanence" on or off; returns the previous value (for the audit log)."""
    duty = _duty(session, account_id)
    before = bool(duty.on_duty)
    duty.on_duty = on_duty
    duty.seen_at = now
    return before


def mark_present(session: Session, account_id: int, now: datetime) -> bool:
    """The queue page polled: the advisor is there. Returns whether they are on duty."""
    duty = _duty(session, account_id)
    duty.seen_at = now
    return bool(duty.on_duty)


# -- requests (action server) --------------------------------------------------------------

@dataclass(frozen=True)
class RequestOutcome:
    request_id: int
    on_duty: bool
    #: What to tell the young person (for a request they made).
    text: str


def open_request(session: Session, chat_id: str) -> TakeoverRequest | None:
    return session.scalars(select(TakeoverRequest).where(
        TakeoverRequest.chat_id == chat_id, TakeoverRequest.state.in_(OPEN))
        .order_by(TakeoverRequest.id.desc()).limit(1)).first()


def _territory(session: Session, territory: str | None) -> CatTerritory | None:
    return session.get(CatTerritory, territory) if territory else None


def request_takeover(session: Session, chat_id: str, territory: str | None, reason: str,
                     now: datetime | None = None, settings: Settings | None = None) -> RequestOutcome:
    """Put the chat in the advisors' queue (once) and say when someone will answer."""
    now = now or utcnow()
    settings = settings or load_settings()
    place = _territory(session, territory)
    territory = place.id if place else None
    request = open_request(session, chat_id)
    if request is None:
        request = TakeoverRequest(chat_id=chat_id, territory=territory, reason=reason, state=WAITING,
                                  requested_at=now, last_activity_at=now)
        session.add(request)
        session.flush()
    else:
        if reason == ASKED:
            request.reason = ASKED
        if territory and not request.territory:
            request.territory = territory
    on_duty = advisors_on_duty(session, territory, now) > 0
    return RequestOutcome(request.id, on_duty, requested_text(place, on_duty, now, settings))


def requested_text(place: CatTerritory | None, on_duty: bool, now: datetime, settings: Settings) -> str:
    if on_duty:
        return t("takeover.requested.on_duty")
    opens, closes = office_hours(settings)
    hours = t("takeover.hours", opens=hour_text(opens), closes=hour_text(closes))
    if place is None:
        return t("takeover.requested.off_duty_unknown", hours=hours)
    opening = next_opening(now, place.id, place.timezone, settings)
    when = t("takeover.when.soon") if opening is None else when_text(opening, now)
    return t("takeover.requested.off_duty", when=when, hours=hours)


# -- the young person's messages (bot) -------------------------------------------------------

def route_incoming(session: Session, chat_id: str, text: str | None, command: str | None,
                   now: datetime | None = None) -> Routing:
    """Where a young person's message goes; during a takeover it is kept for the advisor."""
    now = now or utcnow()
    request = open_request(session, chat_id)
    if request is None:
        return Routing.ASSISTANT
    if command == "annuler":
        if request.state == WAITING:
            _close(request, "young", now)
            return Routing.WITHDRAWN
        _close(request, "young", now)
        return Routing.ENDED
    if request.state != ACTIVE:
        return Routing.ASSISTANT
    shown = text if text is not None else f"/{command}" if command else ""
    if not shown.strip():
        return Routing.TO_ADVISOR
    request.messages.append(TakeoverMessage(chat_id=chat_id, sender=YOUNG, text=shown.strip()[:MAX_REPLY],
                                            created_at=now))
    request.last_activity_at = now
    return Routing.TO_ADVISOR


def route_incoming_now(chat_id: str, text: str | None, command: str | None) -> Routing:
    """:func:`route_incoming` in its own unit of work (the bot's handler)."""
    with session_scope() as session:
        return route_incoming(session, chat_id, text, command)


def _close(request: TakeoverRequest, by: str, now: datetime) -> None:
    request.state = CLOSED
    request.closed_by = by
    request.closed_at = now


def _notice(request: TakeoverRequest, text: str, now: datetime) -> None:
    request.messages.append(TakeoverMessage(chat_id=request.chat_id, sender=SYSTEM, text=text, created_at=now,
                                            delivery=PENDING, next_attempt_at=now))


def close_silent(session: Session, now: datetime, silence: timedelta) -> list[int]:
    """Give back to the assistant the takeovers silent for ``silence``; their ids."""
    silent = session.scalars(select(TakeoverRequest).where(
        TakeoverRequest.state == ACTIVE, TakeoverRequest.last_activity_at < now - silence)).all()
    minutes = int(silence.total_seconds() // 60)
    closed = []
    for request in silent:
        # Compare-and-set: of two bot processes closing at once, only one tells the young person.
        taken = session.execute(update(TakeoverRequest).where(
            TakeoverRequest.id == request.id, TakeoverRequest.state == ACTIVE)
            .values(state=CLOSED, closed_by="silence", closed_at=now).execution_options(synchronize_session=False))
        if not _rows(taken):
            continue
        _close(request, "silence", now)
        _notice(request, t("takeover.ended.silence", minutes=minutes), now)
        closed.append(request.id)
    return closed


# -- the console ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Advisor:
    """Who acts in the console, and the territories they answer for (empty: all)."""

    id: int
    name: str
    role: str
    territories: tuple[str, ...]

    def sees(self, territory: str | None) -> bool:
        return self.role != "advisor" or not self.territories or territory is None or territory in self.territories


def queue(session: Session, advisor: Advisor) -> list[TakeoverRequest]:
    """Open requests the advisor may see: active first, then waiting, oldest first."""
    query = select(TakeoverRequest).where(TakeoverRequest.state.in_(OPEN))
    if advisor.role == "advisor" and advisor.territories:
        query = query.where(or_(TakeoverRequest.territory.in_(advisor.territories),
                                TakeoverRequest.territory.is_(None)))
    rows = session.scalars(query.order_by(TakeoverRequest.requested_at, TakeoverRequest.id)).all()
    return sorted(rows, key=lambda r: r.state != ACTIVE)


def get_visible(session: Session, request_id: int, advisor: Advisor) -> TakeoverRequest:
    request = session.get(TakeoverRequest, request_id)
    if request is None or not advisor.sees(request.territory):
        raise TakeoverError(t("takeover.console.gone"))
    return request


def take(session: Session, request_id: int, advisor: Advisor, now: datetime | None = None) -> TakeoverRequest:
    now = now or utcnow()
    request = get_visible(session, request_id, advisor)
    if request.state == ACTIVE and request.advisor_id == advisor.id:
        return request
    if request.state == ACTIVE:
        raise TakeoverError(t("takeover.console.taken_by", name=request.advisor_name or "?"))
    if request.state != WAITING:
        raise TakeoverError(t("takeover.console.closed"))
    # Compare-and-set: of two advisors clicking at once, one gets it.
    taken = session.execute(update(TakeoverRequest).where(
        TakeoverRequest.id == request.id, TakeoverRequest.state == WAITING).values(
        state=ACTIVE, advisor_id=advisor.id, advisor_name=advisor.name, taken_at=now, last_activity_at=now)
        .execution_options(synchronize_session=False))
    if not taken.rowcount:  # type: ignore[attr-defined]
        raise TakeoverError(t("takeover.console.closed"))
    session.refresh(request)
    _notice(request, t("takeover.started", name=advisor.name.split()[0] if advisor.name.strip() else "AKTO"), now)
    return request


def _own_active(session: Session, request_id: int, advisor: Advisor) -> TakeoverRequest:
    request = get_visible(session, request_id, advisor)
    if request.state != ACTIVE:
        raise TakeoverError(t("takeover.console.closed"))
    if request.advisor_id != advisor.id:
        raise TakeoverError(t("takeover.console.taken_by", name=request.advisor_name or "?"))
    return request


def reply(session: Session, request_id: int, advisor: Advisor, text: str,
          now: datetime | None = None) -> TakeoverMessage:
    """An advisor's message, queued for the bot to send."""
    now = now or utcnow()
    body = (text or "").strip()
    if not body:
        raise TakeoverError(t("takeover.console.empty"))
    if len(body) > MAX_REPLY:
        raise TakeoverError(t("takeover.console.too_long", limit=MAX_REPLY))
    request = _own_active(session, request_id, advisor)
    message = TakeoverMessage(chat_id=request.chat_id, sender=ADVISOR, advisor_id=advisor.id, text=body,
                              created_at=now, delivery=PENDING, next_attempt_at=now)
    request.messages.append(message)
    request.last_activity_at = now
    return message


def hand_back(session: Session, request_id: int, advisor: Advisor, now: datetime | None = None) -> TakeoverRequest:
    now = now or utcnow()
    request = _own_active(session, request_id, advisor)
    _close(request, "advisor", now)
    _notice(request, t("takeover.ended.advisor"), now)
    return request


def dismiss(session: Session, request_id: int, advisor: Advisor, now: datetime | None = None) -> TakeoverRequest:
    """Take a waiting request out of the queue without answering (nothing is sent)."""
    request = get_visible(session, request_id, advisor)
    if request.state != WAITING:
        raise TakeoverError(t("takeover.console.closed"))
    _close(request, "dismissed", now or utcnow())
    return request


@dataclass(frozen=True)
class Line:
    """One line of the conversation as the advisor reads it."""

    at: datetime
    sender: str  # young, assistant, advisor, system
    text: str
    delivery: str | None = None


def transcript(session: Session, request: TakeoverRequest, limit: int = 300) -> list[Line]:
    """The conversation so far: Rasa's user and bot texts, then the takeover's messages, by time."""
    from akto_data.personal_data import rasa_events  # the registry reads Rasa's table; no cycle at import

    lines: list[Line] = []
    for type_name, timestamp, data in rasa_events(session, request.chat_id):
        if type_name in ("user", "bot") and data.get("text") and timestamp is not None:
            text = str(data["text"])
            buttons = (data.get("data") or {}).get("buttons") if type_name == "bot" else None
            if buttons:
                text += "\n" + " · ".join(f"[{b.get('title')}]" for b in buttons if isinstance(b, dict))
            lines.append(Line(datetime.fromtimestamp(timestamp, UTC), YOUNG if type_name == "user" else "assistant",
                              text))
    for earlier in session.scalars(select(TakeoverRequest).where(
            TakeoverRequest.chat_id == request.chat_id, TakeoverRequest.id <= request.id)):
        for message in earlier.messages:
            lines.append(Line(as_utc(message.created_at), message.sender, message.text, message.delivery))
    lines.sort(key=lambda line: line.at)
    return lines[-limit:]


# -- messages to Telegram (bot) ---------------------------------------------------------------

@dataclass(frozen=True)
class Outgoing:
    message_id: int
    chat_id: str
    text: str


def claim_outgoing(session: Session, now: datetime, limit: int = 20) -> list[Outgoing]:
    """Messages due to Telegram, reserved for the caller (lease), oldest first."""
    rows = session.scalars(select(TakeoverMessage).where(
        TakeoverMessage.delivery.in_((PENDING, SENDING)), TakeoverMessage.next_attempt_at <= now)
        .order_by(TakeoverMessage.id).limit(limit)).all()
    claimed = []
    for row in rows:
        taken = session.execute(update(TakeoverMessage).where(
            TakeoverMessage.id == row.id, TakeoverMessage.delivery.in_((PENDING, SENDING)),
            TakeoverMessage.next_attempt_at <= now).values(delivery=SENDING, next_attempt_at=now + LEASE)
            .execution_options(synchronize_session=False))
        if taken.rowcount:  # type: ignore[attr-defined]
            claimed.append(Outgoing(row.id, row.chat_id, row.text))
    return claimed


def record_outgoing(session: Session, message_id: int, now: datetime, failure: SendFailed | None) -> None:
    """The result of one send; nothing if the message went meanwhile (chat erased)."""
    message = session.get(TakeoverMessage, message_id)
    if message is None or message.delivery != SENDING:
        return
    message.attempts = (message.attempts or 0) + 1
    if failure is None:
        message.delivery = SENT
        message.last_error = None
        return
    message.last_error = error_text(failure.reason)
    if failure.permanent or message.attempts >= MAX_ATTEMPTS:
        message.delivery = FAILED
        return
    delay = RETRY[min(message.attempts, len(RETRY)) - 1]
    if failure.retry_after:
        delay = max(delay, timedelta(seconds=failure.retry_after))
    message.delivery = PENDING
    message.next_attempt_at = now + delay


# -- personal data (akto_data.personal_data) ----------------------------------------------------

def chat_requests(session: Session, chat_id: str) -> Iterable[TakeoverRequest]:
    return session.scalars(select(TakeoverRequest).where(TakeoverRequest.chat_id == chat_id)
                           .order_by(TakeoverRequest.id))


def erase_chat_takeovers(session: Session, chat_id: str) -> int:
    removed = _rows(session.execute(delete(TakeoverMessage).where(TakeoverMessage.chat_id == chat_id)))
    return removed + _rows(session.execute(delete(TakeoverRequest).where(TakeoverRequest.chat_id == chat_id)))


def expire_takeovers(session: Session, limit: datetime) -> int:
    """Takeovers with nothing since ``limit`` go, with their messages (the conversation's period)."""
    old = select(TakeoverRequest.id).where(TakeoverRequest.last_activity_at < limit)
    removed = _rows(session.execute(delete(TakeoverMessage).where(TakeoverMessage.request_id.in_(old))))
    removed += _rows(session.execute(delete(TakeoverRequest).where(TakeoverRequest.last_activity_at < limit)))
    return removed


def _rows(result: Result[Any]) -> int:
    return cast(CursorResult[Any], result).rowcount or 0
