"""At most once per (sender, message_id), and failures a client can retry (issue 14, topology).

With several Rasa servers behind a balancer, the same user message can reach Rasa twice:
a server dies after saving the tracker but before answering, and the balancer or the bot
sends the message again; or the bot gives up waiting while the first server is still
working, and retries. Processing it twice would count a quiz answer twice, skip a form
question, send two answers. Four changes, installed in every Rasa server our launcher
starts (:func:`install`):

1. **Idempotent processing.** Around ``MessageProcessor.handle_message``, which runs
   inside the conversation's lock (``Agent.handle_message`` holds it, Redis-wide in the
   topology): when the caller gave a ``message_id`` (:mod:`.channel`) and the tracker
   already holds a ``user`` event with that id, the bot messages that followed it are sent
   again (the same ``BotUttered`` events, through the same output channel call Rasa uses)
   and nothing is processed. The tracker read for that check is handed to Rasa's own
   processing, so a new message costs no extra read. A retry waiting for the lock while
   the first processing runs gets, once it has the lock, the replies of the first.
2. **No silent in-memory fallback.** Rasa wraps the tracker store in a
   ``FailSafeTrackerStore``: when the database is unreachable it reads an *empty* tracker
   and saves into process memory, so the message is answered as the first of a new
   conversation and its events never reach the database. Here the error is raised
   instead; the channel answers 503, nothing is saved, and the bot's retry is answered
   normally once the database is back (e.g. after a PostgreSQL restart).
3. **Connections checked before use** (``pool_pre_ping`` on PostgreSQL): after a
   database restart, Rasa's pooled connections are dead; without the check the first
   message on each would fail.
4. **Events published after they are saved**, from the same list that is saved. Rasa's
   SQL store published first (reading the whole tracker back to find the new events),
   then saved: a failed save (database down) published events that the retry published
   again. Now the event broker gets each event once, when it is in the database.
5. **Action server unreachable = message not processed.** Rasa logs a custom action it
   could not reach (connection refused, or the balancer's 502/503/504 with no action server
   up) and carries on, saving the message as answered with nothing: the user could only
   type it again. Here the tracker is then *not* saved and the message fails (503 from the
   channel), so the bot apologises and sends it again (same id) until the action server is
   back, and it is answered then. An action that runs and fails (its own error, a 500) is
   still Rasa's business: saved, an empty answer (the bot's "Réessayer" button).
"""

from __future__ import annotations

import contextvars
import json
import logging
from typing import Any

log = logging.getLogger(__name__)

#: Marks a message whose id came from the caller (set by :mod:`.channel`).
CALLER_ID_KEY = "_caller_message_id"

#: The tracker read by the idempotency check, handed to Rasa's next read of that sender.
_prefetched: contextvars.ContextVar[tuple[str, Any] | None] = contextvars.ContextVar("_prefetched", default=None)
#: Set when a custom action could not reach the action server during this message (change 5).
_action_server_down: contextvars.ContextVar[str | None] = contextvars.ContextVar("_action_server_down", default=None)
_installed = False


class ActionServerUnreachable(RuntimeError):
    """A custom action of this message could not reach the action server: nothing was saved."""


def install() -> None:
    """Install the four changes once (the launcher may call it twice)."""
    global _installed
    if _installed:
        return
    _install_idempotent_processing()
    _install_failing_tracker_store()
    _install_pre_ping()
    _install_publish_after_save()
    _install_action_server_down()
    _installed = True


# -- 1. idempotent processing ------------------------------------------------------------------------------------------


#: How long a message id is remembered (seconds). Retries come within minutes (the bot's last
#: after about a minute, Telegram re-delivers a webhook update within hours); ids may repeat
#: later (Telegram numbers updates at random again after a week without any), so an older user
#: event with the same id is another message, processed as new.
REMEMBERED_FOR = 24 * 3600.0


def replies_after(events: list[Any], message_id: str, now: float | None = None) -> list[dict[str, Any]] | None:
    """The bot messages that answered the ``user`` event ``message_id``, or None when it is not in ``events``."""
    import time

    from rasa.shared.core.events import BotUttered, UserUttered

    oldest = (now if now is not None else time.time()) - REMEMBERED_FOR
    replies: list[dict[str, Any]] | None = None
    for event in events:
        if isinstance(event, UserUttered):
            if replies is not None:
                break  # the next user message: the answer ended there
            if event.message_id == message_id and (event.timestamp or 0) >= oldest:
                replies = []
        elif replies is not None and isinstance(event, BotUttered):
            replies.append(event.message())
    return replies


def _install_idempotent_processing() -> None:
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.core.processor import MessageProcessor

    original = MessageProcessor.handle_message

    async def handle_message(self: Any, message: Any) -> Any:
        _action_server_down.set(None)
        if not getattr(message, CALLER_ID_KEY, False):
            return await original(self, message)
        tracker = await self.tracker_store.retrieve(message.sender_id)
        if tracker is not None:
            replies = replies_after(list(tracker.events), message.message_id)
            if replies is not None:
                log.info("message %s already processed: its %d replies sent again, not processed twice",
                         message.message_id, len(replies))
                for reply in replies:
                    await message.output_channel.send_response(message.sender_id, reply)
                if isinstance(message.output_channel, CollectingOutputChannel):
                    return message.output_channel.messages
                return None
        token = _prefetched.set((message.sender_id, tracker))
        try:
            return await original(self, message)
        finally:
            _prefetched.reset(token)

    MessageProcessor.handle_message = handle_message  # type: ignore[method-assign]


# -- 2. no silent in-memory fallback ----------------------------------------------------------------------------------


def _install_failing_tracker_store() -> None:
    from rasa.core.tracker_store import FailSafeTrackerStore

    async def retrieve(self: Any, sender_id: str) -> Any:
        prefetched = _prefetched.get()
        if prefetched is not None and prefetched[0] == sender_id:
            _prefetched.set(None)  # once: later reads (after the save) go to the database
            return prefetched[1]
        return await self._tracker_store.retrieve(sender_id)

    async def retrieve_full_tracker(self: Any, sender_id: str) -> Any:
        return await self._tracker_store.retrieve_full_tracker(sender_id)

    async def save(self: Any, tracker: Any) -> None:
        await self._tracker_store.save(tracker)

    async def keys(self: Any) -> Any:
        return await self._tracker_store.keys()

    FailSafeTrackerStore.retrieve = retrieve  # type: ignore[method-assign]
    FailSafeTrackerStore.retrieve_full_tracker = retrieve_full_tracker  # type: ignore[method-assign]
    FailSafeTrackerStore.save = save  # type: ignore[method-assign]
    FailSafeTrackerStore.keys = keys  # type: ignore[method-assign]


# -- 3. connections checked before use --------------------------------------------------------------------------------


def _install_pre_ping() -> None:
    import rasa.core.tracker_store as tracker_store

    original = tracker_store.create_engine_kwargs

    def create_engine_kwargs(url: Any) -> dict[str, Any]:
        kwargs = dict(original(url))
        if tracker_store.is_postgresql_url(url):
            kwargs["pool_pre_ping"] = True
        return kwargs

    tracker_store.create_engine_kwargs = create_engine_kwargs


# -- 4. events published after they are saved -------------------------------------------------------------------------


def _install_publish_after_save() -> None:
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.nlu.constants import INTENT_NAME_KEY

    async def save(self: Any, tracker: Any) -> None:
        with self.session_scope() as session:
            events = list(self._additional_events(session, tracker))  # the ones not stored yet
            rows = []
            for event in events:
                data = event.as_dict()
                rows.append({
                    "sender_id": tracker.sender_id,
                    "type_name": event.type_name,
                    "timestamp": data.get("timestamp"),
                    "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                    "action_name": data.get("name"),
                    "data": json.dumps(data),
                })
            if rows:
                # One multi-row INSERT of the rows Rasa's save adds one ORM object at a time: the ORM's
                # unit of work (an identity map, a RETURNING of each id) was a tenth of a topology
                # server's CPU, for ids nobody reads back here.
                session.execute(self.SQLEvent.__table__.insert(), rows)
            session.commit()
        if self.event_broker is not None and events:
            await self._stream_new_events(self.event_broker, events, tracker.sender_id)

    SQLTrackerStore.save = save  # type: ignore[method-assign]


# -- 5. action server unreachable = message not processed -------------------------------------------------------------


def _install_action_server_down() -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.core.processor import MessageProcessor
    from rasa.shared.exceptions import RasaException
    from rasa.utils.endpoints import ClientResponseError

    run = RemoteAction.run

    async def remote_run(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await run(self, *args, **kwargs)
        except RasaException as exc:
            cause = exc.__cause__
            if "Couldn't connect" in str(exc) or (
                    isinstance(cause, ClientResponseError) and cause.status in (502, 503, 504)):
                _action_server_down.set(self.name())
            raise

    save_tracker = MessageProcessor.save_tracker

    async def save_unless_action_server_down(self: Any, tracker: Any) -> None:
        action = _action_server_down.get()
        if action is not None:
            raise ActionServerUnreachable(f"action server unreachable for {action}: message not saved")
        await save_tracker(self, tracker)

    RemoteAction.run = remote_run  # type: ignore[method-assign]
    MessageProcessor.save_tracker = save_unless_action_server_down  # type: ignore[method-assign]
