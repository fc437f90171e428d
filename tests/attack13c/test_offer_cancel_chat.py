"""Attack on issue 13 after fix13b, in chat through the actions (real Trackers, the real
PaymentsService, the Stripe sandbox): "cancel" / an autopay summary's Cancel while a code is asked for.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from actions.mandates import ActionCancelMandateOffer, ActionProposeMandate
from actions.paying import ActionConfirmPayment, ActionPreparePayment, ActionStopPayment
from db.models import MandateConsent
from payments.mandates import MandateStatus, MandateView
from payments.service import PaymentsService
from tests.actions.conftest import (
    domain,  # noqa: F401  (pytest fixture, used by name)
    slot_events,
)
from tests.actions.test_mandate_step_up import stepping  # noqa: F401  (pytest fixture, used by name)
from tests.actions.test_step_up import _run
from tests.attack13b.test_mandate_codes_chat import _autopay_waiting
from tests.payments.test_mandate_step_up import _mandate_code, _user

pytestmark = pytest.mark.sandbox


def _tap_entities(payload: str) -> list[dict[str, Any]]:
    tap = json.loads(payload[payload.index("{") :])
    return [{"entity": k, "value": v} for k, v in tap.items()]


async def test_chat_an_autopay_cancel_tapped_in_a_payments_code_form_ends_that_form(
    stepping: PaymentsService,  # noqa: F811
    domain: dict[str, Any],  # noqa: F811
) -> None:
    user_id, biller, rent = _user(stepping)
    sender = f"console-{user_id}-attack13c"
    # An autopay summary (no code needed at €100) shown, left open.
    [summary], events = await _run(
        ActionProposeMandate(), domain, sender, intent="mandate_create",
        entities=[{"entity": "biller", "value": biller}, {"entity": "amount", "value": "100 €"}],
    )  # fmt: skip
    cancel_payload = summary["buttons"][1]["payload"]
    assert cancel_payload.startswith("/cancel_mandate")
    slots = slot_events(events)
    # Then a €600 rent payment: confirmed, its code asked for.
    _, events = await _run(
        ActionPreparePayment(), domain, sender, slots=slots | {"bill_id": str(rent), "amount": "600"}
    )
    slots = slots | slot_events(events)
    _, events = await _run(ActionConfirmPayment(), domain, sender, slots=slots, intent="affirm", text="yes")
    slots = slots | slot_events(events)
    assert slots.get("step_up_payment_id")
    # The user taps Cancel under the autopay summary above while the payment's code form asks.
    said, events = await _run(
        ActionCancelMandateOffer(), domain, sender, slots=slots, intent="cancel_mandate", text=cancel_payload,
        entities=_tap_entities(cancel_payload), active_loop="step_up_form",
    )  # fmt: skip
    assert [m["response"] for m in said] == ["utter_mandate_offer_cancelled"]
    assert stepping.pending_step_up(user_id=user_id) is not None  # the payment's code still waits
    ended = [e for e in events if e.get("event") == "active_loop" and e.get("name") is None]
    cleared = [e for e in events if e.get("event") == "slot" and e.get("name") == "step_up_payment_id"]
    assert (ended, cleared) == ([], [])  # the payment's code form goes on
    followup = [e.get("name") for e in events if e.get("event") == "followup"]
    assert followup == ["step_up_form"]  # and asks for its code again


async def test_chat_holds_stop_after_the_autopay_code_verified_never_undoes_it(
    stepping: PaymentsService,  # noqa: F811
    domain: dict[str, Any],  # noqa: F811
) -> None:
    user_id, biller, _ = _user(stepping)
    sender = f"console-{user_id}-attack13c"
    slots = await _autopay_waiting(stepping, domain, sender, {}, biller)
    # The code verified elsewhere (another front end) while this tracker still holds the slot.
    assert isinstance(
        stepping.verify_step_up_code(user_id=user_id, code_text=_mandate_code(stepping, user_id)), MandateView
    )
    said, _ = await _run(ActionStopPayment(), domain, sender, slots=slots, intent="stop", text="stop")
    assert "utter_mandate_offer_cancelled" not in [m["response"] for m in said]
    [live] = stepping.mandates.list_mandates(user_id=user_id)
    assert live.status == MandateStatus.ACTIVE


async def test_chat_holds_a_slot_naming_another_users_offer_never_touches_it(
    stepping: PaymentsService,  # noqa: F811
    domain: dict[str, Any],  # noqa: F811
) -> None:
    victim_id, victim_biller, _ = _user(stepping)
    victim_slots = await _autopay_waiting(
        stepping, domain, f"console-{victim_id}-attack13c", {}, victim_biller
    )
    victim_offer = int(victim_slots["step_up_mandate_offer"])
    user_id, biller, _ = _user(stepping)
    sender = f"console-{user_id}-attack13c"
    slots = await _autopay_waiting(stepping, domain, sender, {}, biller)
    await _run(
        ActionStopPayment(), domain, sender, slots=slots | {"step_up_mandate_offer": str(victim_offer)},
        intent="stop", text="stop",
    )  # fmt: skip
    with stepping.session_factory() as session:
        assert session.get_one(MandateConsent, victim_offer).closed_at is None
    [waiting] = stepping.mandates.list_mandates(user_id=victim_id, include_awaiting_code=True)
    assert waiting.code_pending is not None


async def test_chat_holds_a_locked_autopay_refusal_says_until_when(
    payments_service: PaymentsService,
    domain: dict[str, Any],  # noqa: F811
) -> None:
    import dataclasses

    from actions.mandates import ActionConfirmMandate
    from actions.services import reset_services, set_services
    from tests.attack13c.test_lock_and_offers_core import _fail_mandate_code

    service = PaymentsService(
        session_factory=payments_service.session_factory, gateway=payments_service.gateway,
        config=dataclasses.replace(payments_service.config, step_up_minor=50_000, step_up_lock_failures=1),
    )  # fmt: skip
    set_services(service)
    try:
        user_id, biller, _ = _user(service)
        _fail_mandate_code(service, user_id, biller)  # 3 wrong tries: locked
        sender = f"console-{user_id}-attack13c"
        [summary], events = await _run(
            ActionProposeMandate(), domain, sender, intent="mandate_create",
            entities=[{"entity": "biller", "value": biller}, {"entity": "amount", "value": "600 €"}],
        )  # fmt: skip
        payload = summary["buttons"][0]["payload"]
        said, _ = await _run(
            ActionConfirmMandate(), domain, sender, slots=slot_events(events), intent="confirm_mandate",
            text=payload, entities=_tap_entities(payload), metadata={"shown_text": summary["v_summary_text"]},
        )  # fmt: skip
    finally:
        reset_services()
    [refusal] = said
    assert refusal["response"] == "utter_error_mandate_step_up_locked"
    assert "{" not in refusal["text"] and "try again" in refusal["text"], refusal["text"]
    assert any(ch.isdigit() for ch in refusal["text"].split("try again", 1)[1]), refusal["text"]
