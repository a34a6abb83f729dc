"""``make load``'s conversations still reach their expected answers on the real stack.

The load scripts are written against the dialogue (model, actions, catalogue); if the
dialogue changes, a script that silently went elsewhere would make the benchmark
measure the wrong conversation. Played here briefly, through the load client itself,
on the session's Rasa stack: every step's marker must be in its reply, every button
pressed must have been offered, and the trackers must hold each message once, in
order, with its replies once. Timings are printed by ``make load``, never asserted.
"""

from __future__ import annotations

import pytest

from stack.load.deployments import pids_of
from stack.load.runner import Target, run_level
from stack.load.script import CYCLE, SCRIPTS, long_conversation


@pytest.fixture
def target(rasa_stack) -> Target:
    return Target("e2e", rasa_stack.settings.rasa_url, rasa_stack.settings.rasa_auth_token,
                  lambda: pids_of(rasa_stack))


@pytest.mark.parametrize("script", [*SCRIPTS, long_conversation(2 * len(CYCLE.steps))], ids=lambda s: s.name)
async def test_a_load_conversation_reaches_every_expected_answer(target, script):
    result = await run_level(target, 1, conversations=1, scripts=[script])
    assert [(o.step, o.error) for o in result.errors] == []
    assert result.completed == 1 and len(result.answered) == len(script.steps)
    assert result.tally.clean, result.tally


async def test_concurrent_chats_lose_duplicate_and_reorder_nothing(target):
    """Four chats at once, one conversation of each script per chat: the order check reads every tracker."""
    result = await run_level(target, 4, conversations=4)
    assert [(o.step, o.error) for o in result.errors] == []
    assert result.completed == 4 and result.tally.clean, result.tally
    assert result.cpu_ms["rasa"] > 0 and result.rss_mb > 0  # the processes measured are the stack's
