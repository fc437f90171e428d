"""Action calls rasa-sdk cannot run are refused with a 400 by our door (rasa-sdk answered 500)."""

from __future__ import annotations

from typing import Any

import pytest

from actions.server import malformed

GOOD: dict[str, Any] = {
    "next_action": "action_check_bills",
    "sender_id": "tg-1",
    "tracker": {"sender_id": "tg-1", "slots": {}, "latest_message": {}, "events": [], "active_loop": {}},
    "domain": {},
}


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "call",
        {**GOOD, "next_action": None},
        {**GOOD, "next_action": ""},
        {**GOOD, "tracker": None},
        {**GOOD, "tracker": {"slots": {}}},
        {**GOOD, "tracker": {**GOOD["tracker"], "slots": []}},
        {**GOOD, "tracker": {**GOOD["tracker"], "events": {}}},
        {**GOOD, "tracker": {**GOOD["tracker"], "events": [1, "x"]}},
        {**GOOD, "tracker": {**GOOD["tracker"], "latest_message": "hi"}},
        {**GOOD, "domain": []},
    ],
)
def test_a_call_of_the_wrong_shape_says_why(body: Any) -> None:
    assert malformed(body)


def test_a_well_formed_call_passes() -> None:
    assert malformed(GOOD) is None
    assert malformed({**GOOD, "domain": None, "tracker": {"sender_id": "x"}}) is None
