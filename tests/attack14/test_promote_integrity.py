"""attack14: promote serves whatever file sits at the registered path, compared or not."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tuning import registry


@pytest.mark.xfail(
    strict=True,
    reason="attack14: the registry keeps no digest of a model file, so a file replaced after "
    "compare (tampered or a worse model) is promoted and served",
)
def test_a_model_file_replaced_after_compare_is_not_promoted(db_session: Session, tmp_path: Path) -> None:
    base_file, candidate_file = tmp_path / "base.tar.gz", tmp_path / "cand.tar.gz"
    base_file.write_bytes(b"baseline model")
    candidate_file.write_bytes(b"the model that was compared")
    baseline = registry.register(db_session, name="base", path=base_file, data_fingerprint="b", actor="t").id
    candidate = registry.register(
        db_session, name="cand", path=candidate_file, data_fingerprint="c", actor="t"
    ).id
    registry.mark_served(db_session, baseline, "rasa")
    registry.record_metrics(
        db_session, candidate, {"compared_with": "base", "compared_with_id": baseline, "regressions": []}
    )
    candidate_file.write_bytes(b"something else entirely, never compared")  # swapped on disk

    served: list[str] = []
    with pytest.raises((registry.PromotionRefusedError, registry.RegistryError)):
        registry.promote(db_session, model_id=candidate, actor="ann", serve=served.append)
    assert served == []
