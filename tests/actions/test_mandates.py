"""Autopay actions with real Trackers: a summary with Confirm/Cancel first, the tap confirms it,
list/pause/revoke are one call each, and the cap read never stays behind as a payment's amount."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.mandates import (
    ActionConfirmMandate,
    ActionListMandates,
    ActionPauseMandate,
    ActionProposeMandate,
    ActionRevokeMandate,
)
from payments.service import PaymentsService
from tests.actions.conftest import make_tracker, slot_events
from tests.payments.test_mandates import _user_with_biller

pytestmark = pytest.mark.sandbox


async def test_autopay_summary_then_tap_then_list_pause_and_revoke(
    service: PaymentsService, domain: dict[str, Any]
) -> None:
    user_id, biller = _user_with_biller(service)
    sender = f"console-{user_id}-actions_test"
    entities = [
        {"entity": "biller", "value": biller},
        {"entity": "amount", "value": "40 €"},
        {"entity": "date", "value": "June"},
    ]
    asked = CollectingDispatcher()
    tracker = make_tracker(sender, intent="mandate_create", entities=entities, slots={"amount": "40 €"})
    events = await ActionProposeMandate().run(asked, tracker, domain)
    [summary] = asked.messages
    assert summary["response"] == "utter_mandate_summary" and "€40.00" in summary["v_summary_text"]
    assert [b["title"] for b in summary["buttons"]] == ["Confirm", "Cancel"]
    slots = slot_events(events)
    assert slots["amount"] is None and slots["biller"] is None  # the cap is no payment's amount
    assert slots["mandate_summary"] == summary["v_summary_text"]
    assert service.mandates.list_mandates(user_id=user_id) == []  # nothing before Confirm

    payload = summary["buttons"][0]["payload"]
    tap = json.loads(payload[payload.index("{") :])
    tapped = make_tracker(
        sender,
        intent="confirm_mandate",
        entities=[{"entity": k, "value": v} for k, v in tap.items()],
        metadata={"shown_text": summary["v_summary_text"]},
        text=payload,
    )
    confirmed = CollectingDispatcher()
    await ActionConfirmMandate().run(confirmed, tapped, domain)
    assert confirmed.messages[0]["response"] == "utter_mandate_confirmed"

    listed = CollectingDispatcher()
    await ActionListMandates().run(listed, make_tracker(sender, intent="mandate_list"), domain)
    assert biller in listed.messages[0]["v_mandates"] and "€40.00" in listed.messages[0]["v_mandates"]

    named = [{"entity": "biller", "value": biller}]
    paused = CollectingDispatcher()
    await ActionPauseMandate().run(
        paused, make_tracker(sender, intent="mandate_pause", entities=named), domain
    )
    assert paused.messages[0]["response"] == "utter_mandate_paused"
    again = CollectingDispatcher()
    await ActionPauseMandate().run(
        again, make_tracker(sender, intent="mandate_pause", entities=named), domain
    )
    assert again.messages[0]["response"] == "utter_error_mandate_not_changeable"
    revoked = CollectingDispatcher()
    await ActionRevokeMandate().run(revoked, make_tracker(sender, intent="mandate_revoke"), domain)
    assert revoked.messages[0]["response"] == "utter_mandate_revoked"
    assert service.mandates.list_mandates(user_id=user_id) == []
