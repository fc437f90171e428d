"""Attack 18: a Confirm that CHARGED is answered "not processed" when the action server goes away
between two action calls of the same turn.

The paychat channel (rasa_project/channels/paychat_channel.py) answers 503 `action_server_down`
("not run", rasa_client.NOT_RUN_CODES -> plain AssistantUnavailableError) whenever every FAILED action
call of the turn was refused, `all(call is True or call == REFUSED for call in calls)`. It does not
ask whether an EARLIER call of the turn succeeded. In a pay-everything round the Confirm runs
`action_confirm_payment` (charges) and then `action_pay_next_bill`; an action server that crashes or
is restarted right after answering the first call refuses the second, and the turn that charged is
reported as not processed: the console answers 503 with X-Not-Processed (chat.js gives the Confirm
back), the bot says texts.BRAIN_DOWN ("not processed") with a "Try again" of the Confirm unless the
outbox happens to hold a settled outcome.

Real stack (tests/helpers/stack.py: sandbox, action server, Rasa with the trained model); the
action server is reached through a proxy that stops listening right after forwarding the answer of
action_confirm_payment (tests/attack18/dying_proxy.py).

Fixed: the channel answers `action_server_down` only when EVERY action call of the turn was refused
(paychat_channel._failed_calls_answer); a refusal after an answered call is `turn_failed`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from rasa_client import AssistantNoAnswerError, AssistantTurn, AssistantUnavailableError
from testing.loop import BackgroundLoop
from tests.attack18.dying_proxy import DyingProxy, dying_action_server_stack
from tests.e2e.test_pay_all import _payer, _rows, _summary
from tests.helpers.stack import AssistantStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def dying_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[AssistantStack, DyingProxy, BackgroundLoop]]:
    with dying_action_server_stack(
        tmp_path_factory.mktemp("attack18-dying"), "attack18-dying-proxy"
    ) as parts:
        yield parts


def test_a_confirm_that_charged_is_never_reported_as_not_processed(
    dying_stack: tuple[AssistantStack, DyingProxy, BackgroundLoop],
) -> None:
    stack, proxy, loop = dying_stack
    user_id, _bills = _payer(stack, (("electricity", 1_150), ("phone", 2_300)))
    sender = f"console-{user_id}-atk18_{uuid.uuid4().hex[:8]}"

    async def run() -> tuple[AssistantTurn, AssistantTurn | AssistantUnavailableError]:
        client = stack.rasa_client(timeout_seconds=30.0)
        try:
            listed = await client.send(sender, "pay everything that's due", metadata={"channel": "console"})
            text, buttons = _summary(listed)
            proxy.die_after = "action_confirm_payment"  # the action server goes right after the charge
            try:
                answer: AssistantTurn | AssistantUnavailableError = await client.send(
                    sender, buttons["Confirm"], metadata={"channel": "console", "shown_text": text}
                )
            except AssistantUnavailableError as error:
                answer = error
            return listed, answer
        finally:
            await client.aclose()

    try:
        _listed, answer = asyncio.run(run())
    finally:
        if proxy.dead:  # it died: the action server is back for whatever runs next
            loop.run(proxy.revive())
    sql = "SELECT status FROM payments WHERE user_id = :u AND status != 'draft'"
    statuses = [r["status"] for r in _rows(stack, sql, u=user_id)]
    assert proxy.forwarded[-1] == "action_confirm_payment", proxy.forwarded
    assert statuses == ["succeeded"], statuses  # the Confirm charged
    # Charged: the answer may be a reply or "no answer" (may have run), never "not processed".
    not_processed = isinstance(answer, AssistantUnavailableError) and not isinstance(
        answer, AssistantNoAnswerError
    )
    assert not not_processed, f"charged ({statuses}) but reported as not processed: {answer!r}"
