"""`rasa data validate` is clean: no errors, and no warning except responses that actions utter.

Rasa warns about every response that no story or rule names, but most of paychat's wording is
chosen by actions (errors by code, summaries, lists). Those warnings are expected only for
responses the action code actually names; any other warning fails the test.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.rasa.conftest import ROOT, run_rasa

UNUSED_RESPONSE = re.compile(r"The utterance '(utter_[a-z_]+)' is not used in any story or rule\.")
# Responses picked by a computed name in actions/ (by error code, payment status, intent, failure code
# or day relation).
COMPUTED_PREFIXES = (
    "utter_error_",
    "utter_status_",
    "utter_intent_label_",
    "utter_failure_reason_",
    "utter_day_",
    "utter_at_",
    "utter_step_up_reason_",  # issue 13: a one-time code's (or a risk refusal's) reasons, by code
)
# Responses Rasa's own actions utter: form questions, the two-stage fallback's wording, the restart.
RASA_PREFIXES = ("utter_ask_",)
RASA_RESPONSES = {"utter_ask_rephrase", "utter_default", "utter_restart"}


def _named_in_actions() -> set[str]:
    names: set[str] = set()
    # The actions, and the paychat channel (it refuses a card number with a domain response itself).
    for path in [*(ROOT / "actions").glob("*.py"), *(ROOT / "rasa_project" / "channels").glob("*.py")]:
        names |= set(re.findall(r'"(utter_[a-z_]+)"', path.read_text(encoding="utf-8")))
    return names


def _uttered_by_actions(response: str, named: set[str]) -> bool:
    if response in named or response in RASA_RESPONSES:
        return True
    return response.startswith(COMPUTED_PREFIXES + RASA_PREFIXES)


def test_rasa_data_validate_is_clean(spacy_pipeline: Path) -> None:
    result = run_rasa("data", "validate")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    named = _named_in_actions()
    unexpected = []
    for line in output.splitlines():
        # Rasa's own data warnings; library deprecation noise (SQLAlchemy, TF) is not ours.
        if "UserWarning:" not in line and " WARNING " not in line:
            continue
        match = UNUSED_RESPONSE.search(line)
        if match and _uttered_by_actions(match.group(1), named):
            continue
        unexpected.append(line.strip())
    assert not unexpected, "\n".join(unexpected)
