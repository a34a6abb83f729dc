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
