"""Attack 18b: a Confirm answered "not processed" (503 action_server_down: every action call of the
turn refused) must be the same Confirm when the user taps "Try again": the retry, with the action
server back, charges exactly once.

The turn did not run any action, but Rasa carried on after the refused call (its events lost) and
saved the turn: the user's Confirm and the ActionExecuted of the refused action are in the tracker.
The edges then give the Confirm back ("not processed", try again). This checks what that retry does.

Real stack (tests/helpers/stack.py: sandbox, action server, Rasa with the trained model); the action
server is reached through tests/attack18/dying_proxy.py, killed between the listing turn and the
Confirm (a crash the channel has not seen yet, so the Confirm's turn runs and its calls are refused).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from rasa_client import AssistantNoAnswerError, AssistantTurn, AssistantUnavailableError
from testing.loop import BackgroundLoop
from tests.attack18.dying_proxy import DyingProxy, dying_action_server_stack
from tests.e2e.test_pay_all import _payer, _rows, _said, _summary
from tests.helpers.stack import AssistantStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def dying_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[AssistantStack, DyingProxy, BackgroundLoop]]:
    with dying_action_server_stack(
        tmp_path_factory.mktemp("attack18b-dying"), "attack18b-dying-proxy"
    ) as parts:
        yield parts


def test_a_confirm_reported_not_processed_charges_once_when_tapped_again(
    dying_stack: tuple[AssistantStack, DyingProxy, BackgroundLoop],
) -> None:
    stack, proxy, loop = dying_stack
    user_id, _bills = _payer(stack, (("electricity", 1_150),))
    sender = f"console-{user_id}-atk18b_{uuid.uuid4().hex[:8]}"
    sql = "SELECT status FROM payments WHERE user_id = :u AND status != 'draft'"

    async def run() -> tuple[AssistantUnavailableError | AssistantTurn, list[str], AssistantTurn | Exception]:
        client = stack.rasa_client(timeout_seconds=30.0)
        try:
            # The action server goes right after answering the listing's last call (the channel saw
            # it answer, so the Confirm's turn runs and its calls are refused).
            proxy.die_after = "action_pay_next_bill"
            listed = await client.send(sender, "pay everything that's due", metadata={"channel": "console"})
            assert proxy.dead, proxy.forwarded
            text, buttons = _summary(listed)
            meta = {"channel": "console", "shown_text": text}
            try:
                first: AssistantUnavailableError | AssistantTurn = await client.send(
                    sender, buttons["Confirm"], metadata=meta
                )
            except AssistantUnavailableError as error:
                first = error
            between = [r["status"] for r in _rows(stack, sql, u=user_id)]
            loop.run(proxy.revive())
            await asyncio.sleep(1.2)  # the channel's health check runs at most once a second
            try:
                again: AssistantTurn | Exception = await client.send(
                    sender, buttons["Confirm"], metadata=meta
                )
            except AssistantUnavailableError as error:
                again = error
            return first, between, again
        finally:
            await client.aclose()

    try:
        first, between, again = asyncio.run(run())
    finally:
        if proxy.dead:
            loop.run(proxy.revive())
    statuses = [r["status"] for r in _rows(stack, sql, u=user_id)]
    # The premise: the first Confirm was reported "not processed" and did not charge.
    assert isinstance(first, AssistantUnavailableError) and not isinstance(first, AssistantNoAnswerError), (
        first
    )
    assert between == [], between
    said = _said(again) if isinstance(again, AssistantTurn) else repr(again)
    assert statuses == ["succeeded"], (
        f"the Confirm tapped again after 'not processed': {statuses}; said {said!r}"
    )
