"""Attack on issue 13 item 2 in chat, through the actions (real Trackers, the real PaymentsService and
the Stripe sandbox): what the user reads while a code waits, and odd input in the code slot.
"""

from __future__ import annotations

from typing import Any

import pytest

from db.models import Payment, StepUpChallenge
from payments.service import PaymentsService
from tests.actions.conftest import domain  # noqa: F401  (pytest fixture, used by name)
from tests.actions.test_step_up import _pending, _typed, stepping  # noqa: F401  (fixture by name)

pytestmark = pytest.mark.sandbox


def _attempts(service: PaymentsService, payment_id: int) -> tuple[int, str]:
    with service.session_factory() as session:
        challenge = session.query(StepUpChallenge).filter_by(payment_id=payment_id).one()
        return challenge.attempts, session.get_one(Payment, payment_id).status


async def test_stepup_the_last_try_is_worded_in_the_singular(
    stepping: PaymentsService,  # noqa: F811
    domain: dict[str, Any],  # noqa: F811
) -> None:
    sender, user_id, slots, _ = await _pending(stepping, domain, "600")
    code = stepping.pending_codes_for(user_id=user_id)[0].code
    assert code is not None
    await _typed(domain, sender, slots, f"{(int(code) + 1) % 10**6:06d}")

    [said], _ = await _typed(domain, sender, slots, f"{(int(code) + 2) % 10**6:06d}")

    assert "1 more tries" not in said["text"], said["text"]
    assert "1 more try" in said["text"]


@pytest.mark.parametrize(
    "text",
    [
        "x" * 100_000,
        "1" * 100_000,
        "4" * 50_000 + " " + "8" * 50_000,
        "<b>123</b><i>456</i>",
        "",
        "12345",
        "1234567",
    ],
    ids=["100k_letters", "100k_digits", "100k_digit_runs", "html_split", "empty", "five", "seven"],
)
async def test_stepup_holds_odd_input_in_the_code_slot_costs_no_try(
    stepping: PaymentsService,  # noqa: F811
    domain: dict[str, Any],  # noqa: F811
    text: str,
) -> None:
    sender, _user_id, slots, _ = await _pending(stepping, domain, "600")
    payment_id = int(slots["step_up_payment_id"])

    said, kept = await _typed(domain, sender, slots, text)

    assert said == [] and kept["step_up_code"] is None  # asked again
    assert _attempts(stepping, payment_id) == (0, "draft")
