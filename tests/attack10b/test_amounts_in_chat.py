"""Amounts the user did not mean still reach a summary, or are charged, through the real assistant.

End to end through the console's chat API, the paychat channel, Rasa with the trained model, the
action server, payments and the Stripe sandbox, as demo user Alex (Vodafone €39.99, rent €950.00).
Measured answers, each a summary with a Confirm button (or a charge) for money not asked for:

- written but not understood, so the draft falls back to the whole bill: "pay vodafone ½",
  "pay vodafone a fiver", "pay vodafone 20c", "pay vodafone -twenty", "pay vodafone 20-",
  "pay vodafone 2\u00d710" → "Pay €39.99"; "pay the rent zero hundred" / "hundred hundred" → "Pay €950.00";
- a sub-unit word the span rules do not know, read as whole euros: "20 eurocents", "20 euro-cents",
  "20 cts", "20 centimes", "20 pennies" → "Pay €20.00" (100 times what was said);
- a sign written as a word or in accounting notation, dropped: "minus twenty", "20 negative",
  "(20)" → "Pay €20.00";
- a multiplier or operator dropped: "2 tenners" → €2.00, "20 x 2" → €2.00, "10^1" → €1.00,
  "30 less 10" → €10.00, "20 grand" → €20.00, "1 000,50" → €0.50, "one hundred and twenty five
  cents" → €100.25;
- a currency named by a word babel does not know, read as euros: "20 sterling", "20 bitcoin",
  "20 usdt", "20 euros in dollars" → "Pay €20.00";
- a typed confirmation that names another amount charges the summary's (and a typed "yes" after
  "change the amount" charges the old summary): after "Pay €2.00",
  "sure, 5 please" and "confirm 4" answer "Done ✅ Paid €2.00".

Fixed in fix10b: payments refuses anything money-like left outside the amount span (amount_unread),
reads the other sub-unit words as sub-units, refuses a typed confirmation naming an amount
(confirmation_amount) and withdraws the live summary when the user asks to change it.
"""

from __future__ import annotations

import uuid

import pytest

from rasa_client import AssistantTurn
from tests.e2e.test_stale_confirm import _alex, _rows, _said
from tests.helpers.stack import AssistantStack, ConsoleAPI

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def _offered(turn: AssistantTurn) -> str | None:
    """The text of the summary offered with a Confirm button this turn, or None."""
    for reply in turn.replies:
        if any(button.title == "Confirm" for button in reply.buttons):
            return reply.text or ""
    return None


async def _ask(stack: AssistantStack, api: ConsoleAPI, message: str) -> str | None:
    session = "attack10b_" + uuid.uuid4().hex[:8]
    return _offered(await api.achat(session, message, user_id=_alex(stack)))


async def test_control_a_plain_amount_is_summarised(
    assistant_stack: AssistantStack, console_api: ConsoleAPI
) -> None:
    """The control: the same stack summarises an amount it reads, so the refusals below are real."""
    summary = await _ask(assistant_stack, console_api, "pay vodafone 20 euros")
    assert summary is not None and "€20.00" in summary


@pytest.mark.parametrize(
    ("message", "meant"),
    [
        ("pay vodafone \u00bd", None),
        ("pay vodafone a fiver", "€5.00"),
        ("pay vodafone 20c", None),  # €0.20 is below the minimum
        ("pay vodafone -twenty", None),
        ("pay vodafone 20-", None),
        ("pay vodafone 2\u00d710", "€20.00"),
        ("pay the rent zero hundred", None),
        ("pay the rent hundred hundred", None),
    ],
)
async def test_a_written_amount_never_becomes_the_whole_bill(
    assistant_stack: AssistantStack, console_api: ConsoleAPI, message: str, meant: str | None
) -> None:
    """Measured: each is summarised as the whole bill; refusing it or reading it right both pass."""
    summary = await _ask(assistant_stack, console_api, message)
    assert summary is None or (meant is not None and meant in summary), (
        f"{message!r} was summarised: {summary!r}"
    )


@pytest.mark.parametrize(
    "message",
    [
        "pay vodafone 20 eurocents",
        "pay vodafone 20 euro-cents",
        "pay vodafone 20 cts",
        "pay vodafone 20 centimes",
        "pay vodafone 20 pennies",
    ],
)
async def test_cents_in_other_words_are_never_whole_euros(
    assistant_stack: AssistantStack, console_api: ConsoleAPI, message: str
) -> None:
    summary = await _ask(assistant_stack, console_api, message)
    assert summary is None, f"{message!r} was summarised: {summary!r}"  # €0.20 is below the minimum


@pytest.mark.parametrize(
    "message", ["pay vodafone minus twenty", "pay vodafone 20 negative", "pay vodafone (20)"]
)
async def test_a_sign_in_words_or_brackets_is_never_dropped(
    assistant_stack: AssistantStack, console_api: ConsoleAPI, message: str
) -> None:
    summary = await _ask(assistant_stack, console_api, message)
    assert summary is None, f"{message!r} was summarised: {summary!r}"


@pytest.mark.parametrize(
    ("message", "meant"),
    [
        ("pay vodafone 2 tenners", "€20.00"),
        ("pay vodafone 20 x 2", None),  # €40.00 is more than the bill
        ("pay vodafone 10^1", "€10.00"),
        ("pay vodafone 30 less 10", "€20.00"),
        ("pay vodafone 20 grand", None),  # €20,000 is more than the bill
        ("pay the rent 1 000,50", None),  # €1,000.50 is more than the bill
        ("pay the rent one hundred and twenty five cents", "€1.25"),
    ],
)
async def test_a_summary_names_the_amount_meant_or_none(
    assistant_stack: AssistantStack, console_api: ConsoleAPI, message: str, meant: str | None
) -> None:
    summary = await _ask(assistant_stack, console_api, message)
    assert summary is None or (meant is not None and meant in summary), (
        f"{message!r} was summarised: {summary!r}"
    )


@pytest.mark.parametrize(
    "message",
    [
        "pay vodafone 20 sterling",
        "pay vodafone 20 bitcoin",
        "pay vodafone 20 usdt",
        "pay vodafone 20 euros in dollars",
    ],
)
async def test_another_currency_word_is_never_read_as_euros(
    assistant_stack: AssistantStack, console_api: ConsoleAPI, message: str
) -> None:
    summary = await _ask(assistant_stack, console_api, message)
    assert summary is None, f"{message!r} was summarised: {summary!r}"


@pytest.mark.parametrize("reply", ["sure, 5 please", "confirm 4"])
async def test_a_typed_yes_with_another_amount_charges_nothing(
    assistant_stack: AssistantStack, console_api: ConsoleAPI, reply: str
) -> None:
    user_id, session = _alex(assistant_stack), "attack10b_yes_" + uuid.uuid4().hex[:8]
    summary = _offered(await console_api.achat(session, "pay 2 euros to vodafone", user_id=user_id))
    assert summary is not None and "€2.00" in summary
    [draft] = _rows(
        assistant_stack,
        "SELECT id FROM payments WHERE user_id = :u AND status = 'draft' ORDER BY id DESC LIMIT 1",
        u=user_id,
    )

    turn = await console_api.achat(session, reply, user_id=user_id)

    [row] = _rows(assistant_stack, "SELECT status FROM payments WHERE id = :p", p=draft["id"])
    assert row["status"] != "succeeded", f"{reply!r} after 'Pay €2.00' answered {_said(turn)!r}"


async def test_a_typed_yes_after_asking_to_change_charges_nothing(
    assistant_stack: AssistantStack, console_api: ConsoleAPI
) -> None:
    user_id, session = _alex(assistant_stack), "attack10b_change_" + uuid.uuid4().hex[:8]
    summary = _offered(await console_api.achat(session, "pay 2 euros to vodafone", user_id=user_id))
    assert summary is not None and "€2.00" in summary
    [draft] = _rows(
        assistant_stack,
        "SELECT id FROM payments WHERE user_id = :u AND status = 'draft' ORDER BY id DESC LIMIT 1",
        u=user_id,
    )
    asked = await console_api.achat(session, "change the amount", user_id=user_id)
    assert "what should I change" in _said(asked), _said(asked)

    turn = await console_api.achat(session, "yes", user_id=user_id)

    [row] = _rows(assistant_stack, "SELECT status FROM payments WHERE id = :p", p=draft["id"])
    assert row["status"] != "succeeded", f"'yes' after 'change the amount' answered {_said(turn)!r}"
