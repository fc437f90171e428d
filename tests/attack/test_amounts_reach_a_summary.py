"""Item 9: amounts with a sign, another currency or cents reach a summary for a different amount.

The core checks the amount span the NLU hands it, but the span often leaves out the very part
that should refuse it — a sign written with an en dash or before a symbol, a currency symbol or
word the span rules do not know, the word "cents" — or the amount is dropped altogether and the
draft defaults to the whole bill. Each answer below is a summary with a Confirm button for money
the user did not ask for (measured on the demo bill, €39.99 to Vodafone):

- "pay vodafone \u201320"     → "Pay €20.00" (the en dash, as phones autocorrect "-", is lost)
- "pay vodafone -€5"          → "Pay €39.99" (amount and sign gone: the whole bill)
- "pay ₽20 to vodafone"       → "Pay €20.00" (roubles read as euros; also "20 rupees", "20 zł", "20 ₺")
- "pay vodafone 20 Fr."       → "Pay €20.00" (Swiss francs, a symbol payments.money knows, not the span)
- "pay vodafone 20 euro cents"→ "Pay €20.00" (100 times what was said; €0.20 is below the minimum)
- "pay vodafone 1e3"          → "Pay €39.99" (amount dropped)

End to end through the console's chat API, the paychat channel, Rasa with the trained model, the
action server and payments.
"""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.test_stale_confirm import _alex, _rows, _said
from tests.helpers.stack import AssistantStack, ConsoleAPI

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


@pytest.mark.parametrize(
    "message",
    [
        "pay vodafone \u201320",  # an en dash, as phones autocorrect "-"
        "pay vodafone -€5",
        "pay ₽20 to vodafone",
        "pay vodafone 20 Fr.",
        "pay vodafone 20 euro cents",
        "pay vodafone 1e3",
    ],
)
async def test_an_amount_the_user_did_not_mean_never_reaches_a_summary(
    assistant_stack: AssistantStack, console_api: ConsoleAPI, message: str
) -> None:
    user_id, session = _alex(assistant_stack), "attack_amount_" + uuid.uuid4().hex[:8]
    before = _rows(assistant_stack, "SELECT count(*) AS n FROM payments")[0]["n"]

    turn = await console_api.achat(session, message, user_id=user_id)

    offered = [reply for reply in turn.replies if any(b.title == "Confirm" for b in reply.buttons)]
    assert offered == [], f"{message!r} was summarised: {_said(turn)!r}"
    assert _rows(assistant_stack, "SELECT count(*) AS n FROM payments")[0]["n"] == before
