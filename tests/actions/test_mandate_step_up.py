"""Issue 13 items 2 and 8 in chat, through the actions (real Trackers, the real PaymentsService and
the Stripe sandbox): confirming an autopay that can move a large amount says a code was sent and
starts step_up_form; the code typed switches the autopay on (the usual mandate-confirmed reply); a
wrong code is counted in the autopay's words; "cancel" while the code waits withdraws the offer.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest

from actions.mandates import ActionCancelMandateOffer, ActionConfirmMandate, ActionProposeMandate
from actions.paying import ActionStopPayment
from actions.services import reset_services, set_services
from payments.mandates import MandateStatus
from payments.service import PaymentsService
from tests.actions.conftest import slot_events
from tests.actions.test_step_up import _run, _typed
from tests.payments.test_mandates import _user_with_biller

pytestmark = pytest.mark.sandbox


@pytest.fixture
def stepping(payments_service: PaymentsService) -> Iterator[PaymentsService]:
    """The action server's service: a code from 500.00 (a payment, or an autopay's monthly budget)."""
    service = PaymentsService(
        session_factory=payments_service.session_factory,
        gateway=payments_service.gateway,
        config=dataclasses.replace(payments_service.config, step_up_minor=50_000),
    )
    set_services(service)
    yield service
    reset_services()


async def _tapped(
    service: PaymentsService, domain: dict[str, Any], cap: str
) -> tuple[str, int, str, Any, dict]:
    """A fresh user asks for an autopay up to `cap` and taps its Confirm: what they read, the slots."""
    user_id, biller = _user_with_biller(service)
    sender = f"console-{user_id}-mandate_step_up_test"
    entities = [{"entity": "biller", "value": biller}, {"entity": "amount", "value": cap}]
    [summary], _ = await _run(
        ActionProposeMandate(), domain, sender, intent="mandate_create", entities=entities
    )
    payload = summary["buttons"][0]["payload"]
    tap = json.loads(payload[payload.index("{") :])
    [said], events = await _run(
        ActionConfirmMandate(), domain, sender, intent="confirm_mandate", text=payload,
        entities=[{"entity": k, "value": v} for k, v in tap.items()],
        metadata={"shown_text": summary["v_summary_text"]},
    )  # fmt: skip
    return sender, user_id, biller, (said, events), slot_events(events)


def _code(service: PaymentsService, user_id: int) -> str:
    [note] = [n for n in service.pending_codes_for(user_id=user_id) if n.mandate_id is not None]
    assert note.code is not None
    return str(note.code)


async def test_a_large_autopay_waits_for_the_code_and_the_code_switches_it_on(
    stepping: PaymentsService, domain: dict[str, Any]
) -> None:
    sender, user_id, biller, (said, events), slots = await _tapped(stepping, domain, "600 €")

    assert said["response"] == "utter_mandate_step_up_pending"
    assert f"To switch on autopay for {biller} up to €600.00 a month I've sent you a" in said["text"]
    assert "because it's a large payment" in said["text"] and [b["payload"] for b in said["buttons"]] == [
        "/deny"
    ]
    assert {"event": "followup", "name": "step_up_form"} in [
        {"event": e["event"], "name": e.get("name")} for e in events
    ]
    assert slots["step_up_mandate_offer"] and slots["step_up_payment_id"] is None
    assert stepping.mandates.list_mandates(user_id=user_id) == []  # not on yet
    code = _code(stepping, user_id)

    [refused], kept = await _typed(domain, sender, slots, f"{(int(code) + 1) % 10**6:06d}")
    assert refused["text"] == "That code isn't right. You have 2 more tries." and kept["step_up_code"] is None
    [last], _ = await _typed(domain, sender, slots, f"{(int(code) + 2) % 10**6:06d}")
    assert last["response"] == "utter_error_mandate_step_up_code_wrong_last" and "autopay" in last["text"]

    [on], done = await _typed(domain, sender, slots, f"it's {code}")
    assert on["response"] == "utter_mandate_confirmed" and done["step_up_code"] == "done"
    assert f"Autopay is on: new {biller} bills up to €600.00" in on["text"]
    [view] = stepping.mandates.list_mandates(user_id=user_id)
    assert view.status == MandateStatus.ACTIVE


async def test_a_small_autopay_needs_no_code(stepping: PaymentsService, domain: dict[str, Any]) -> None:
    _, user_id, _, (said, events), _ = await _tapped(stepping, domain, "40 €")
    assert said["response"] == "utter_mandate_confirmed"
    assert not [e for e in events if e.get("event") == "followup"]
    assert [v.status for v in stepping.mandates.list_mandates(user_id=user_id)] == [MandateStatus.ACTIVE]


async def test_failing_the_code_or_cancelling_sets_nothing_up(
    stepping: PaymentsService, domain: dict[str, Any]
) -> None:
    sender, user_id, _, _, slots = await _tapped(stepping, domain, "900 €")
    code = _code(stepping, user_id)
    for n in (1, 2):
        await _typed(domain, sender, slots, f"{(int(code) + n) % 10**6:06d}")
    [failed], done = await _typed(domain, sender, slots, f"{(int(code) + 3) % 10**6:06d}")
    assert failed["response"] == "utter_error_mandate_step_up_failed" and done["step_up_code"] == "done"
    assert "haven't set up or changed the autopay" in failed["text"]
    assert stepping.mandates.list_mandates(user_id=user_id) == []

    sender, user_id, _, _, slots = await _tapped(stepping, domain, "900 €")
    [said], events = await _run(
        ActionStopPayment(), domain, sender, slots=slots, intent="deny", text="cancel"
    )
    assert said["response"] == "utter_mandate_offer_cancelled"
    assert slot_events(events)["step_up_mandate_offer"] is None
    [late], _ = await _typed(domain, sender, slots, "123456")
    assert late["response"] == "utter_error_step_up_not_pending"
    assert stepping.mandates.list_mandates(user_id=user_id, include_awaiting_code=True) == []


async def test_the_summarys_cancel_during_the_code_form_withdraws_it_and_ends_the_form(
    stepping: PaymentsService, domain: dict[str, Any]
) -> None:
    user_id, biller = _user_with_biller(stepping)
    sender = f"console-{user_id}-mandate_step_up_test"
    entities = [{"entity": "biller", "value": biller}, {"entity": "amount", "value": "900 €"}]
    [summary], _ = await _run(
        ActionProposeMandate(), domain, sender, intent="mandate_create", entities=entities
    )
    payload = summary["buttons"][0]["payload"]
    tap = [{"entity": k, "value": v} for k, v in json.loads(payload[payload.index("{") :]).items()]
    _, events = await _run(
        ActionConfirmMandate(), domain, sender, intent="confirm_mandate", text=payload, entities=tap,
        metadata={"shown_text": summary["v_summary_text"]},
    )  # fmt: skip
    slots = slot_events(events)
    cancel = summary["buttons"][1]["payload"]
    [said], events = await _run(
        ActionCancelMandateOffer(), domain, sender, slots=slots | {"requested_slot": "step_up_code"},
        intent="cancel_mandate", text=cancel, active_loop="step_up_form",
        entities=[{"entity": k, "value": v} for k, v in json.loads(cancel[cancel.index("{") :]).items()],
    )  # fmt: skip
    assert said["response"] == "utter_mandate_offer_cancelled"
    assert {"event": "active_loop", "name": None} in [
        {"event": e["event"], "name": e.get("name")} for e in events if e["event"] == "active_loop"
    ]
    after = slot_events(events)
    assert after["step_up_mandate_offer"] is None and after["requested_slot"] is None
    assert stepping.mandates.list_mandates(user_id=user_id, include_awaiting_code=True) == []
    assert _codes_left(stepping, user_id) == []


def _codes_left(service: PaymentsService, user_id: int) -> list[Any]:
    return [n for n in service.pending_codes_for(user_id=user_id) if n.mandate_id is not None]
