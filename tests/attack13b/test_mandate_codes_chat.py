"""Attack on issue 13 (autopay step-up) in chat, through the actions (real Trackers, the real
PaymentsService and the Stripe sandbox): what "cancel" means while an autopay waits for its code.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from actions.mandates import ActionConfirmMandate, ActionProposeMandate
from actions.paying import ActionPreparePayment, ActionStopPayment
from db.models import Payment
from payments.service import PaymentsService
from tests.actions.conftest import (
    domain,  # noqa: F401  (pytest fixture, used by name)
    slot_events,
)
from tests.actions.test_mandate_step_up import stepping  # noqa: F401  (pytest fixture, used by name)
from tests.actions.test_step_up import _run, _typed
from tests.payments.test_mandate_step_up import _user

pytestmark = pytest.mark.sandbox


async def _autopay_waiting(
    service: PaymentsService, words: dict[str, Any], sender: str, slots: dict[str, Any], biller: str
) -> dict[str, Any]:
    """The user asks for a €600 autopay and taps its Confirm: the code form starts; the slots after."""
    entities = [{"entity": "biller", "value": biller}, {"entity": "amount", "value": "600 €"}]
    [summary], events = await _run(
        ActionProposeMandate(), words, sender, slots=slots, intent="mandate_create", entities=entities
    )
    slots = slots | slot_events(events)
    payload = summary["buttons"][0]["payload"]
    tap = json.loads(payload[payload.index("{") :])
    [said], events = await _run(
        ActionConfirmMandate(), words, sender, slots=slots, intent="confirm_mandate", text=payload,
        entities=[{"entity": k, "value": v} for k, v in tap.items()],
        metadata={"shown_text": summary["v_summary_text"]},
    )  # fmt: skip
    assert said["response"] == "utter_mandate_step_up_pending"
    return slots | slot_events(events)


async def test_mandate_codes_cancel_in_the_autopay_code_form_cancels_the_autopay(
    stepping: PaymentsService,  # noqa: F811
    domain: dict[str, Any],  # noqa: F811
) -> None:
    user_id, biller, rent = _user(stepping)
    sender = f"console-{user_id}-attack13b"
    # Earlier in the chat: a €20 rent payment's summary was shown (not confirmed, not cancelled).
    _, events = await _run(
        ActionPreparePayment(), domain, sender, slots={"bill_id": str(rent), "amount": "20"}
    )
    slots = slot_events(events)
    assert slots.get("pending_payment_id")
    draft_id = int(slots["pending_payment_id"])
    slots = await _autopay_waiting(stepping, domain, sender, slots, biller)

    [said], _ = await _run(ActionStopPayment(), domain, sender, slots=slots, intent="deny", text="cancel")

    with stepping.session_factory() as session:
        draft_status = session.get_one(Payment, draft_id).status
    waiting = stepping.mandates.list_mandates(user_id=user_id, include_awaiting_code=True)
    # "cancel" answers the autopay the assistant just asked a code for, not an older payment summary.
    assert (said["response"], [v.code_pending is not None for v in waiting], draft_status) == (
        "utter_mandate_offer_cancelled",
        [],
        "draft",
    )


async def test_mandate_codes_holds_cancel_in_the_form_then_the_code_is_dead(
    stepping: PaymentsService,  # noqa: F811
    domain: dict[str, Any],  # noqa: F811
) -> None:
    user_id, biller, _ = _user(stepping)
    sender = f"console-{user_id}-attack13b"
    slots = await _autopay_waiting(stepping, domain, sender, {}, biller)
    [note] = [n for n in stepping.pending_codes_for(user_id=user_id) if n.mandate_id is not None]
    [said], _ = await _run(ActionStopPayment(), domain, sender, slots=slots, intent="stop", text="stop")
    assert said["response"] == "utter_mandate_offer_cancelled"
    [late], _ = await _typed(domain, sender, slots, str(note.code))  # a stale form state, the code typed
    assert late["response"] == "utter_error_step_up_not_pending"
    assert stepping.mandates.list_mandates(user_id=user_id, include_awaiting_code=True) == []


@pytest.mark.parametrize(
    "text",
    [
        "set up autopay for my phone up to 900 €",
        "pay my rent 600",
        "482913 or 482914",
        "/affirm",
        "\uff14\uff18\uff12",
    ],
    ids=["new_autopay", "new_payment", "two_codes", "payload", "fullwidth_short"],
)
async def test_mandate_codes_holds_other_requests_in_the_autopay_code_form_cost_no_try(
    stepping: PaymentsService,  # noqa: F811
    domain: dict[str, Any],  # noqa: F811
    text: str,
) -> None:
    user_id, biller, _ = _user(stepping)
    sender = f"console-{user_id}-attack13b"
    slots = await _autopay_waiting(stepping, domain, sender, {}, biller)

    said, kept = await _typed(domain, sender, slots, text)

    assert said == [] and kept["step_up_code"] is None  # asked again
    [waiting] = stepping.mandates.list_mandates(user_id=user_id, include_awaiting_code=True)
    assert waiting.code_pending is not None and waiting.code_pending.attempts_left == 3
