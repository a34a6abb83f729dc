import asyncio

from telegram import Chat, Message, Update, User

from bot.guard import FloodLimiter
from bot.pacing import ChatPacer
from bot.processor import PerChatUpdateProcessor


def test_pacer_keeps_the_minimum_gap_per_chat():
    now = [100.0]
    pacer = ChatPacer(1.0, clock=lambda: now[0])
    assert pacer.delay_for(1) == 0
    asyncio.run(pacer.wait(1))
    now[0] = 100.25
    assert pacer.delay_for(1) == 0.75
    assert pacer.delay_for(2) == 0  # another chat is not slowed down


def _update(update_id, chat_id, user_id=7):
    user = User(user_id, "Léa", False)
    message = Message(update_id, None, Chat(chat_id, "private"), from_user=user, text="x")
    return Update(update_id, message=message)


async def test_one_chat_in_order_other_chats_concurrently():
    processor = PerChatUpdateProcessor(16, FloodLimiter(100, 10), on_flood=None)
    log = []

    async def work(tag, delay):
        log.append(("start", tag))
        await asyncio.sleep(delay)
        log.append(("end", tag))

    await asyncio.gather(
        processor.do_process_update(_update(1, 1), work("a1", 0.2)),
        processor.do_process_update(_update(2, 1), work("a2", 0.0)),
        processor.do_process_update(_update(3, 2, user_id=8), work("b1", 0.0)),
    )
    assert log.index(("end", "a1")) < log.index(("start", "a2"))  # same chat: in order
    assert log.index(("end", "b1")) < log.index(("end", "a1"))  # other chat: not blocked


async def test_flood_is_answered_once_and_the_rest_dropped():
    warned = []

    async def on_flood(update):
        warned.append(update.update_id)

    processor = PerChatUpdateProcessor(16, FloodLimiter(2, 60), on_flood=on_flood)
    handled = []

    async def work(i):
        handled.append(i)

    for i in range(5):
        await processor.do_process_update(_update(i, 1), work(i))
    assert handled == [0, 1] and warned == [2]


def _press(update_id, chat_id, user_id=7):
    from telegram import CallbackQuery

    user = User(user_id, "Léa", False)
    message = Message(update_id, None, Chat(chat_id, "private"), text="Choisis :")
    return Update(update_id, callback_query=CallbackQuery(str(update_id), user, "ci", message=message, data="b"))


async def test_finding_8_twenty_presses_by_one_user_do_not_delay_another_users_answer():
    processor = PerChatUpdateProcessor(8, FloodLimiter(12, 30), on_flood=None, presses=FloodLimiter(30, 30))
    started = {}

    async def work(tag, delay):
        started[tag] = asyncio.get_running_loop().time()
        await asyncio.sleep(delay)

    loop = asyncio.get_running_loop()
    presses = [asyncio.create_task(processor.process_update(_press(i, 1), work(f"press{i}", 0.1)))
               for i in range(20)]
    await asyncio.sleep(0)  # the presses arrive first and take their places
    sent_at = loop.time()
    await processor.process_update(_update(100, 2, user_id=8), work("other", 0.0))
    # Before: 8 slots, 7 of them held by presses waiting for their chat; the other user
    # waited behind 12 more presses (about 1.3 s here, 7 s in the simulation).
    assert started["other"] - sent_at < 0.05
    await asyncio.gather(*presses)
    order = sorted(started, key=started.get)
    assert [t for t in order if t.startswith("press")] == [f"press{i}" for i in range(20)]  # still in order


async def test_finding_8_presses_count_in_a_looser_limit_of_their_own():
    warned = []

    async def on_flood(update):
        warned.append(update.update_id)

    processor = PerChatUpdateProcessor(16, FloodLimiter(3, 60), on_flood=on_flood, presses=FloodLimiter(5, 60))
    handled = []

    async def work(i):
        handled.append(i)

    for i in range(8):
        await processor.process_update(_press(i, 1), work(i))
    assert handled == [0, 1, 2, 3, 4] and warned == [5]  # before: every press went through
    await processor.process_update(_update(50, 1), work(50))  # messages keep their own limit
    assert handled[-1] == 50


def test_finding_8_old_keyboard_is_refused_after_erasure(sqlite_db):
    from akto_data.buttons import consume_button, register_buttons
    from akto_data.i18n import text as t
    from akto_data.privacy import erase_chat

    old = register_buttons("77", [("1re année", '/inform{"contract_year":"1"}'), ("2e année", "/x")])
    erase_chat("77", None)
    assert consume_button("77", old[0]) is None  # the front then answers bot.button_expired
    assert "plus actif" in t("bot.button_expired")
