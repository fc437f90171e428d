"""Checks on rasa_project's data and wording that need no trained model."""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML

from tests.rasa.conftest import PROJECT


def _load(path: str) -> dict[str, Any]:
    return dict(YAML(typ="safe").load((PROJECT / path).read_text(encoding="utf-8")))


def test_nothing_to_confirm_offers_buttons_instead_of_a_yes_no_question() -> None:
    [variant] = _load("domain.yml")["responses"]["utter_nothing_to_confirm"]
    # A yes/no question here would be answered "yes", which leads straight back to this response.
    assert "?" not in variant["text"]
    assert {"title": "Pay a bill", "payload": "/pay_bill"} in variant["buttons"]
