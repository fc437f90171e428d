"""Attack on issue 13 (autopay step-up) in the trained dialogue model (`rasa test core`, ~30 s): the
autopay summary's own Cancel button tapped while step_up_form waits for the autopay's code.

`action_confirm_mandate` starts the form with a FollowupAction, which a test story cannot express:
the story's `step_up_form` step is always "mispredicted" (action_listen) and is ignored here; every
later step is predicted on the story's true tracker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.train import current_model_path
from tests.rasa.conftest import (
    run_rasa,
    spacy_pipeline,  # noqa: F401  (pytest fixture, used by name)
)

pytestmark = pytest.mark.e2e

STORY = """version: "3.1"
stories:
- story: autopay code waiting, the summary's Cancel tapped
  steps:
  - intent: confirm_mandate
  - action: action_confirm_mandate
  - slot_was_set:
    - step_up_mandate_offer: "5"
  - action: step_up_form
  - active_loop: step_up_form
  - slot_was_set:
    - requested_slot: step_up_code
  - intent: cancel_mandate
  - action: action_cancel_mandate_offer
  - action: action_listen
"""


def test_mandate_codes_the_summarys_cancel_during_the_code_form_ends_cleanly(
    spacy_pipeline: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    model = current_model_path()
    if not model.exists():
        pytest.skip(f"no trained model for the current data ({model.name}); run `make train` first")
    stories = tmp_path / "stories.yml"
    stories.write_text(STORY, encoding="utf-8")
    result = run_rasa(
        "test", "core", "--stories", str(stories), "--model", str(model), "--out", str(tmp_path / "out"),
        "--no-plot",
    )  # fmt: skip
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    failed = tmp_path / "out" / "failed_test_stories.yml"
    lines = failed.read_text(encoding="utf-8").splitlines() if failed.exists() else []
    after_form = [line for line in lines if "# predicted" in line and "step_up_form  #" not in line]
    assert after_form == [], "\n".join(lines)
