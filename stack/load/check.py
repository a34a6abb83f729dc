"""Did every message reach Rasa once, in order, and get its replies once?

After each level, ``make load`` reads every chat's tracker back (Rasa's HTTP API) and
compares what Rasa recorded with what the load client sent. The client's own view
cannot see a message processed twice (a retry after a lost answer) or two messages of
one chat handled out of order by two servers: the tracker can.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Sent:
    """One message as the client sent it, with the number of replies it got (None: never answered)."""

    message_id: str
    text: str
    replies: int | None


@dataclass
class Tally:
    lost: int = 0  # sent (and answered to the client) but not in the tracker
    duplicated: int = 0  # in the tracker more often than sent
    reordered: int = 0  # in the tracker, but not in the order sent
    replies_lost: int = 0  # fewer bot replies recorded after the message than the client received
    replies_duplicated: int = 0  # more bot replies recorded than the client received
    unreadable: int = 0  # trackers that could not be read

    def add(self, other: Tally) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def clean(self) -> bool:
        return not any(vars(self).values())


def _longest_increasing(values: Sequence[int]) -> int:
    tails: list[int] = []
    for value in values:
        at = bisect.bisect_left(tails, value)
        if at == len(tails):
            tails.append(value)
        else:
            tails[at] = value
    return len(tails)


def rest_messages(bot_event: dict[str, Any]) -> int:
    """How many messages of the REST channel's answer one recorded bot utterance makes.

    As Rasa 3.6's ``OutputChannel.send_response`` sends them: a text with buttons is one
    message; a text alone is one message per paragraph (``send_text_message`` splits
    on blank lines); a custom payload, an image, an attachment, elements one each.
    """
    data = bot_event.get("data") or {}
    text = bot_event.get("text") or ""
    count = 0
    if data.get("quick_replies") or data.get("buttons"):
        count += 1
    elif text:
        count += len(text.strip().split("\n\n"))
    return count + sum(1 for key in ("custom", "image", "attachment", "elements") if data.get(key))


def recorded_turns(events: Iterable[dict[str, Any]]) -> list[tuple[str, str | None, int]]:
    """(text, message_id, REST messages of the bot's replies after it) for each user message of a tracker."""
    turns: list[tuple[str, str | None, int]] = []
    for event in events:
        kind = event.get("event")
        if kind == "user":
            turns.append((event.get("text") or "", event.get("message_id"), 0))
        elif kind == "bot" and turns:
            text, message_id, count = turns[-1]
            turns[-1] = (text, message_id, count + rest_messages(event))
    return turns


def compare(sent: Sequence[Sent], events: Iterable[dict[str, Any]]) -> Tally:
    """What the tracker's user messages and bot replies say about the messages ``sent``.

    A recorded message is matched to a sent one by our ``message_id`` when Rasa kept it
    (our idempotent channel passes it on), else by its text: the k-th recording of a
    text is the k-th sending of it, so a conversation may repeat a message. Messages
    never answered to the client (every retry failed) are allowed to be missing or
    present once: the client cannot know whether Rasa got them.
    """
    tally = Tally()
    by_id = {s.message_id: i for i, s in enumerate(sent)}
    positions: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(sent):
        positions[s.text].append(i)
    used: dict[str, int] = defaultdict(int)
    seen: set[int] = set()
    order: list[int] = []
    for text, message_id, bot_count in recorded_turns(events):
        if message_id in by_id:
            index: int | None = by_id[message_id]
        else:
            k = used[text]
            used[text] += 1
            candidates = positions.get(text, [])
            index = candidates[k] if k < len(candidates) else (candidates[-1] if candidates else None)
        if index is None:
            continue  # not ours (cannot happen with a fresh sender): ignored
        if index in seen:
            tally.duplicated += 1
            continue
        seen.add(index)
        order.append(index)
        expected = sent[index].replies
        if expected is not None:
            tally.replies_lost += max(0, expected - bot_count)
            tally.replies_duplicated += max(0, bot_count - expected)
    tally.lost = sum(1 for i, s in enumerate(sent) if i not in seen and s.replies is not None)
    tally.reordered = len(order) - _longest_increasing(order)
    return tally
