"""An action whose call into payments blows up says sorry and logs, instead of going silent."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher

from actions.bills import ActionCheckBills
from actions.forms import ValidatePayBillForm
from actions.services import reset_services, set_services
from tests.actions.conftest import SOMEONE, make_tracker, slot_events


class BrokenService:
    """Stands in for a PaymentsService whose database went away: every use case raises."""

    def __getattr__(self, name: str) -> Any:
        def fail(**_: Any) -> Any:
            raise RuntimeError(f"database unavailable in {name}")

        return fail


@pytest.fixture
def broken() -> Iterator[None]:
    set_services(BrokenService())  # type: ignore[arg-type]
    yield
    reset_services()


def test_every_registered_action_is_guarded() -> None:
    executor = ActionExecutor()
    executor.register_package("actions")
    unguarded = [name for name, run in executor.actions.items() if not getattr(run, "is_guarded", False)]
    assert executor.actions and not unguarded


async def test_a_failing_action_logs_and_apologises(
    broken: None, domain: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    dispatcher = CollectingDispatcher()
    with caplog.at_level(logging.ERROR, logger="actions.common"):
        events = await ActionCheckBills().run(dispatcher, make_tracker(SOMEONE, intent="check_bills"), domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_error_unexpected"]
    assert events == []
    [record] = [r for r in caplog.records if "action_check_bills" in r.getMessage()]
    assert record.exc_info and "database unavailable" in str(record.exc_info[1])


async def test_a_failing_form_validation_asks_again(broken: None, domain: dict[str, Any]) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        SOMEONE,
        slots={"biller": "strom", "requested_slot": "biller"},
        entities=[{"entity": "biller", "value": "strom"}],
        events=[
            {"event": "active_loop", "name": "pay_bill_form"},
            {"event": "user", "text": "strom"},
            {"event": "slot", "name": "biller", "value": "strom"},
        ],
        active_loop="pay_bill_form",
    )
    events = await ValidatePayBillForm().run(dispatcher, tracker, domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_error_unexpected"]
    assert slot_events(events) == {"biller": None}
