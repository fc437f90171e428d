"""Attack 22: a typed "yes" that was not processed (Rasa unreachable) is kept behind a "Try again"
button (bot.rendering.retry_keyboard) and re-sent as typed words whenever it is tapped, with no
summary attached (`Tap.shown_text` None, `Tap.message_id` None). A Confirm tap kept the same way
is refused once a newer summary replaced the one it was under (bot.handlers.on_button:
`replaced_summary`), and payments refuses it too; the typed "yes" is checked against nothing. It
reaches action_confirm_payment as a typed yes (nonce None), which payments reads as "the
conversation's live summary" (payments.confirming: `_latest_offer`).

So a "yes" typed under summary A, tapped again after the user moved on to summary B, confirms B:
an amount or a biller the user never said yes to. In a pay-everything round it is the most
natural sequence: "yes" under bill 1 not processed, bill 1 paid by its Confirm, bill 2's summary
shown, the leftover "Try again" tapped: bill 2 is paid. The same rule attack21 set for the summary
re-offered after a lost tap ("a typed yes that may predate this offer must not confirm it",
`summary_offers.accepts_typed_yes`) does not hold for the summaries shown after the typed yes.

Real bot (python-telegram-bot long polling the fake Telegram), real Rasa with the trained model,
action server, localstripe and database (tests/helpers/stack.py); Rasa is made unreachable for
the "yes" through the switchable TCP proxy of tests/bot/test_e2e_telegram.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from bot import texts
from db.engine import make_engine
from tests.bot.test_e2e_telegram import (
    TURN_WAIT,
    TcpProxy,
    bot_on,
    bot_settings,
    button,
    payments_of,
    summary_for_electricity,
)
from tests.helpers.fake_telegram import FakeTelegram, fake_telegram_server
from tests.helpers.stack import AssistantStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

# Not yet moved past "draft" / "cancelled" means: nothing was confirmed.
UNCONFIRMED = {"draft", "cancelled", "expired"}


@pytest.fixture
def engine(assistant_stack: AssistantStack) -> Iterator[Engine]:
    engine = make_engine(assistant_stack.database_url)
    yield engine
    engine.dispose()


def _newest_with(fake: FakeTelegram, chat_id: int, title: str, after: int, words: str) -> Any:
    """A predicate: a message sent after the first `after` ones, with a `title` button and `words`."""

    def find() -> dict[str, Any] | None:
        for message in fake.sent_messages(chat_id)[after:]:
            rows = message.get("reply_markup", {}).get("inline_keyboard", [])
            if words in message.get("text", "") and any(b["text"] == title for row in rows for b in row):
                return dict(message)
        return None

    return find


async def _scenario(stack: AssistantStack, engine: Engine, user: int, moving_on: str, words: str) -> dict:
    host, port = stack.rasa_url.removeprefix("http://").split(":")
    proxy = TcpProxy(host, int(port))
    await proxy.start()
    try:
        async with (
            fake_telegram_server() as fake,
            bot_on(bot_settings(stack, fake, f"http://127.0.0.1:{proxy.port}")),
        ):
            first = await summary_for_electricity(fake, user)  # summary A: Stadtwerke, €84.20
            # The user types "yes" while the assistant cannot be reached: not processed, kept.
            await proxy.stop()
            count = len(fake.sent_messages(user))
            await fake.send_text(user, "yes")
            down = await fake.wait_for(_newest_with(fake, user, texts.TRY_AGAIN, count, ""), TURN_WAIT)
            assert down["text"] == texts.BRAIN_DOWN, down
            await proxy.start()
            # The user moves on and is shown summary B (it replaces A; A's keyboard goes).
            count = len(fake.sent_messages(user))
            await fake.send_text(user, moving_on)
            second = await fake.wait_for(_newest_with(fake, user, "Confirm", count, words), TURN_WAIT)
            assert second["text"] != first["text"]
            drafted = {p.id: (p.status, p.amount_minor) for p in payments_of(engine, user)}
            # Then taps the old "Try again" (the "yes" typed under A).
            count = len(fake.sent_messages(user))
            await fake.tap(user, down, button(down, texts.TRY_AGAIN))
            said = await fake.wait_for_messages(user, count + 1, TURN_WAIT)
            told = [m["text"] for m in said[count:]]
    finally:
        await proxy.stop()
    return {"drafted": drafted, "told": told, "summary_b": second["text"]}


@pytest.mark.xfail(
    strict=True,
    reason="a typed 'yes' kept behind 'Try again' (not processed) confirms a summary shown after it was "
    "typed (bot.handlers.on_button checks replaced_summary for Confirm taps only; payments reads a "
    "typed yes as the live summary)",
)
@pytest.mark.parametrize(
    ("user", "moving_on", "words"),
    [
        (722_001, "pay my phone bill", "Vodafone"),  # another biller
        (722_002, "actually make it 40", "€40.00"),  # another amount, same biller
    ],
    ids=["another-biller", "another-amount"],
)
async def test_a_yes_typed_under_one_summary_never_confirms_a_later_one(
    assistant_stack: AssistantStack, engine: Engine, user: int, moving_on: str, words: str
) -> None:
    seen = await _scenario(assistant_stack, engine, user, moving_on, words)
    confirmed = [(p.status, p.amount_minor) for p in payments_of(engine, user) if p.status not in UNCONFIRMED]
    assert confirmed == [], (
        f"the 'yes' typed under the €84.20 Stadtwerke summary, retried, confirmed {confirmed} "
        f"(summary B: {seen['summary_b']!r}); told {seen['told']!r}"
    )


async def _pay_all_scenario(stack: AssistantStack, engine: Engine, user: int) -> dict:
    """A pay-everything round: "yes" typed under bill 1's summary is not processed; the user then
    taps bill 1's Confirm (paid; bill 2's summary follows) and later the leftover "Try again"."""
    host, port = stack.rasa_url.removeprefix("http://").split(":")
    proxy = TcpProxy(host, int(port))
    await proxy.start()
    try:
        async with (
            fake_telegram_server() as fake,
            bot_on(bot_settings(stack, fake, f"http://127.0.0.1:{proxy.port}")),
        ):
            await fake.send_text(user, "pay everything that's due")
            first = await fake.wait_for(_newest_with(fake, user, "Confirm", 0, ""), TURN_WAIT)
            await proxy.stop()
            count = len(fake.sent_messages(user))
            await fake.send_text(user, "yes")
            down = await fake.wait_for(_newest_with(fake, user, texts.TRY_AGAIN, count, ""), TURN_WAIT)
            assert down["text"] == texts.BRAIN_DOWN, down
            await proxy.start()
            count = len(fake.sent_messages(user))
            await fake.tap(user, first, button(first, "Confirm"))
            second = await fake.wait_for(_newest_with(fake, user, "Confirm", count, ""), TURN_WAIT)
            paid_first = [p.status for p in payments_of(engine, user) if p.status not in UNCONFIRMED]
            count = len(fake.sent_messages(user))
            await fake.tap(user, down, button(down, texts.TRY_AGAIN))
            said = await fake.wait_for_messages(user, count + 1, TURN_WAIT)
            told = [m["text"] for m in said[count:]]
    finally:
        await proxy.stop()
    return {"paid_first": paid_first, "told": told, "summary_1": first["text"], "summary_2": second["text"]}


@pytest.mark.xfail(
    strict=True,
    reason="in a pay-everything round, the leftover 'Try again' of a 'yes' typed under bill 1 (which "
    "the user then paid by its Confirm) pays bill 2",
)
async def test_a_leftover_typed_yes_never_pays_the_next_bill_of_a_round(
    assistant_stack: AssistantStack, engine: Engine
) -> None:
    seen = await _pay_all_scenario(assistant_stack, engine, 722_003)
    assert seen["paid_first"] == ["succeeded"], seen  # the premise: bill 1 paid by its own Confirm
    confirmed = [
        (p.status, p.amount_minor) for p in payments_of(engine, 722_003) if p.status not in UNCONFIRMED
    ]
    assert len(confirmed) == 1, (
        f"after bill 1 ({seen['summary_1']!r}) was paid by its Confirm, the leftover 'yes' paid "
        f"{seen['summary_2']!r} too: {confirmed}; told {seen['told']!r}"
    )
