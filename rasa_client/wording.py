"""Sentences of the assistant's domain that the other front ends reuse, so each is written once.

The Telegram bot's notifications and the console's customer pages tell why a payment failed in the
same words as the chat turn: the `utter_failure_reason_<code>` responses of rasa_project/domain.yml
(first text variant). Read once per process.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ruamel.yaml import YAML

DOMAIN = Path(__file__).resolve().parents[1] / "rasa_project" / "domain.yml"
FAILURE_PREFIX = "utter_failure_reason_"


@lru_cache(maxsize=1)
def failure_reasons() -> dict[str, str]:
    """Failure code → its sentence, plus "unknown" (from `utter_failure_reason_<code>` in the domain)."""
    responses = (YAML(typ="safe").load(DOMAIN.read_text(encoding="utf-8")) or {}).get("responses") or {}
    return {
        name.removeprefix(FAILURE_PREFIX): str(variants[0]["text"])
        for name, variants in responses.items()
        if name.startswith(FAILURE_PREFIX) and variants and "text" in variants[0]
    }


def failure_reason(code: str | None, processor_message: str | None) -> str:
    """Why a payment failed, as one sentence: worded by its code; the processor's words only for a
    code the domain does not word; "unknown" when there are none."""
    reasons = failure_reasons()
    if code and code in reasons:
        return reasons[code]
    message = (processor_message or "").strip()
    if message:
        return message if message[-1] in ".!?" else message + "."
    return reasons["unknown"]
