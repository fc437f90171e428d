"""Attack on issue 13 item 3 (time lock): cancelling a held payment from chat, right after the held
reply, with wordings other than the two the feature's tests use ("cancel my electricity payment"
holds, a bare "cancel" is already a known strict xfail in tests/e2e/test_safety_controls_e2e.py).

Real bot (fake Telegram API), Rasa with the trained model, the action server restarted with a time
lock, the sandbox and the stack's database; a worker round past the window must charge nothing.
"""

from __future__ import annotations

import pytest

from tests.bot.test_e2e_telegram import TURN_WAIT, bot_on, bot_settings
from tests.e2e.test_safety_controls_e2e import (  # noqa: F401  (pytest fixtures, used by name)
    charged_nothing_after_the_window,
    engine,
    held_first_payment,
    payments_of,
    time_locked_actions,
)
from tests.helpers.fake_telegram import fake_telegram_server
from tests.helpers.stack import AssistantStack

# Slow (restarts the action server with a time lock): runs in `make test-slow` and `make bench`;
# tests/actions/test_cancel_offered.py and tests/e2e/test_safety_controls_e2e.py cover it in `make test`.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.mark.parametrize(
    ("wording", "user"),
    [
        ("cancel it", 555_921),
        pytest.param(
            "don't send it",
            555_922,
            marks=pytest.mark.xfail(
                strict=True,
                reason=(
                    "'don't send it' after the held reply is not understood ('Did you mean…'): "
                    "nothing is cancelled"
                ),
            ),
        ),
        ("stop the payment to Stadtwerke", 555_923),
    ],
)
async def test_a_held_payment_is_cancelled_by_a_plain_wording(
    time_locked_actions: AssistantStack,  # noqa: F811
    engine: object,  # noqa: F811
    wording: str,
    user: int,
) -> None:
    stack = time_locked_actions
    async with fake_telegram_server() as fake, bot_on(bot_settings(stack, fake)):
        await held_first_payment(fake, engine, user)
        answered = len(fake.sent_messages(user))
        await fake.send_text(user, wording)
        await fake.wait_for(lambda: len(fake.sent_messages(user)) > answered, TURN_WAIT)
        reply = fake.sent_messages(user)[-1]["text"]

    assert payments_of(engine, user)[0].status == "cancelled", (wording, reply)
    charged_nothing_after_the_window(stack, engine, user)
