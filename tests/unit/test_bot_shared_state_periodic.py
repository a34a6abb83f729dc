"""The bot's periodic jobs with two bot processes running (issue 14, section 3): each row is
claimed by one process and sent once, on SQLite (embedded default) and PostgreSQL.

The takeover relay stands for the three claim / lease / record loops (lead notices, CFA
messages, advisors' messages), which share the compare-and-set claim; the silence rule
of a takeover is the one job that changed a row without such a claim.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from telegram import Bot

from akto_data.db import get_engine, session_scope
from akto_data.i18n import text as t
from akto_data.takeover import core
from akto_data.takeover.models import TakeoverMessage
from bot.pacing import ChatPacer
from bot.takeover import TakeoverRelay
from tests.unit.test_lead_notices import TOKEN, FakeBotApi
from tests.unit.test_takeover import CHAT, TUESDAY_MORNING, advisor

SILENCE = timedelta(minutes=30)
DATABASES = ["catalogue", "catalogue_postgres"]


def _active_takeover(start=TUESDAY_MORNING, replies: int = 0) -> int:
    with session_scope() as session:
        person = advisor(session, "mq@akto.example", ["martinique"])
        request_id = core.request_takeover(session, CHAT, "martinique", core.ASKED, start).request_id
        core.take(session, request_id, person, start)
        for i in range(replies):
            core.reply(session, request_id, person, f"Message {i}", start)
    return request_id


def _messages() -> list[tuple[str, str | None]]:
    with session_scope() as session:
        return [(m.text, m.delivery) for m in session.scalars(select(TakeoverMessage).order_by(TakeoverMessage.id))]


@pytest.mark.parametrize("db", DATABASES)
def test_silence_gives_the_chat_back_once_when_two_bots_check_at_the_same_time(db, request):
    request.getfixturevalue(db)
    request_id = _active_takeover()
    later = TUESDAY_MORNING + timedelta(minutes=41)
    # Bot process 1 closes the silent takeover; before it commits, process 2 looks too.
    first = sessionmaker(get_engine())()
    assert core.close_silent(first, later, SILENCE) == [request_id]
    first.flush()
    seen: dict[str, list[int]] = {}

    def second_process() -> None:
        with session_scope() as session:
            seen["closed"] = core.close_silent(session, later, SILENCE)

    other = threading.Thread(target=second_process)
    other.start()
    other.join(0.5)  # it read the takeover as active and now waits for process 1's write
    first.commit()
    first.close()
    other.join(20)
    assert seen["closed"] == []
    notices = [text for text, _ in _messages() if text == t("takeover.ended.silence", minutes=30)]
    assert len(notices) == 1  # before: the young person was told twice


def _relay_round(api: FakeBotApi, clocks) -> list[int]:
    async def run() -> list[int]:
        async with Bot(TOKEN, base_url=api.base_url) as one, Bot(TOKEN, base_url=api.base_url) as two:
            relays = [TakeoverRelay(one, ChatPacer(0), clock=clocks[0]),
                      TakeoverRelay(two, ChatPacer(0), clock=clocks[1])]
            return list(await asyncio.gather(*(relay.run_once() for relay in relays)))

    return asyncio.run(run())


@pytest.mark.parametrize("db", DATABASES)
def test_two_bot_processes_send_each_advisor_message_once(db, request):
    request.getfixturevalue(db)
    _active_takeover(replies=6)
    api = FakeBotApi()
    try:
        delivered = _relay_round(api, (lambda: TUESDAY_MORNING, lambda: TUESDAY_MORNING))
    finally:
        api.close()
    texts = [data["text"] for _path, data in api.sent]
    assert sorted(texts) == sorted(text for text, _ in _messages())  # every message once, none twice
    assert sum(delivered) == len(texts) == 7
    assert {delivery for _, delivery in _messages()} == {core.SENT}


@pytest.mark.parametrize("db", DATABASES)
def test_a_message_whose_lease_may_run_out_mid_send_is_left_to_the_next_claim(db, request):
    request.getfixturevalue(db)
    _active_takeover(replies=2)
    # Process 1 claims, then stalls (Telegram slow, a long pause): by the time it would send,
    # the lease has not the send's deadline left, and process 2 may claim the rows again.
    ticks = iter([TUESDAY_MORNING] + [TUESDAY_MORNING + core.LEASE - timedelta(seconds=5)] * 10)
    api = FakeBotApi()
    try:
        stalled = _relay_round(api, (lambda: next(ticks), lambda: TUESDAY_MORNING - timedelta(hours=1)))
        assert stalled == [0, 0] and api.sent == []  # process 1 sent nothing it might share
        after = TUESDAY_MORNING + core.LEASE + timedelta(seconds=1)
        resumed = _relay_round(api, (lambda: after, lambda: after))
    finally:
        api.close()
    assert sum(resumed) == 3 and len(api.sent) == 3  # each claimed again once, sent once


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_two_bot_processes_starting_together_on_a_new_database_both_start(db, request, tmp_path):
    """Each bot process brings the schema up to date at start (:func:`akto_data.db.create_schema`);
    two starting at once on a new database both saw it empty, and the second died."""
    import os
    import subprocess
    import sys

    from akto_data.settings import PROJECT_ROOT

    if db == "sqlite":
        url = f"sqlite:///{tmp_path / 'new.db'}"
    else:
        url = request.getfixturevalue("postgres_db")
        from sqlalchemy import create_engine

        from akto_data.db import dispose_engines
        from akto_data.models import Base

        engine = create_engine(url)  # empty it again: both processes must find no table
        Base.metadata.drop_all(engine)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        engine.dispose()
        dispose_engines()
    env = {**os.environ, "DATABASE_URL": url}
    starts = [subprocess.Popen([sys.executable, "-m", "akto_data.migrate"], cwd=PROJECT_ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=120)[0] for process in starts]
    assert [process.returncode for process in starts] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]


@pytest.mark.parametrize("db", ["sqlite_db", "postgres_db"])
def test_a_keyboard_answers_once_when_two_presses_are_handled_at_the_same_time(db, request):
    """Presses of one chat run in turn through Redis; if Redis is away, each bot process runs
    what it received, and two presses of one keyboard may be handled at once."""
    from sqlalchemy import update

    from akto_data.buttons import consume_button, register_buttons
    from akto_data.models import ButtonPayload, utcnow

    request.getfixturevalue(db)
    first_id, second_id = register_buttons("880001", [("Oui", "/affirm"), ("Non", "/deny")])
    # Process 1 takes the keyboard; before it commits, process 2 handles a press of the other button.
    first = sessionmaker(get_engine())()
    keyboard = first.get(ButtonPayload, first_id).keyboard_id
    first.execute(update(ButtonPayload).where(ButtonPayload.keyboard_id == keyboard).values(used_at=utcnow()))
    seen: dict[str, object] = {}
    other = threading.Thread(target=lambda: seen.update(second=consume_button("880001", second_id)))
    other.start()
    other.join(0.5)
    first.commit()
    first.close()
    other.join(20)
    assert seen["second"] is None  # before: both presses were answered
