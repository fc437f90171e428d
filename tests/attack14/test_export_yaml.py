"""attack14: a user text with a non-\\n line break breaks or rewrites the exported NLU YAML."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ruamel.yaml import YAML

from tuning.export import nlu_yaml
from tuning.review import LabelView


@pytest.mark.parametrize("text", ["pay\rthe phone bill", "pay\u2028the phone bill", "pay\x85the phone bill"])
@pytest.mark.xfail(
    strict=True,
    reason="attack14: export only folds \\n; \\r, U+2028 and U+0085 are YAML line breaks, so the "
    "NLU YAML is invalid or the example is cut",
)
def test_exported_example_round_trips(text: str) -> None:
    label = LabelView(
        id=1,
        text_key="k",
        text=text,
        intent="pay_bill",
        entities=(),
        staff_username="t",
        labelled_at=datetime.now(UTC),
        turn_id=None,
    )
    data = YAML(typ="safe").load(nlu_yaml([label]))
    assert data["nlu"][0]["examples"] == "- pay the phone bill\n"
