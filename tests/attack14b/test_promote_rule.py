"""attack14b: a promotion judged on numbers that do not compare like with like."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tuning import evaluation, loop, registry


def _view(path: Path, metrics: dict[str, object]) -> registry.ModelView:
    return registry.ModelView(
        id=1,
        name="served-model",
        path=str(path),
        data_fingerprint="f",
        examples_added=0,
        trained_by="t",
        trained_at=datetime.now(UTC),
        train_seconds=None,
        metrics=metrics,
        promoted_by=None,
        promoted_at=None,
        served=True,
    )


def test_scores_kept_from_another_version_of_the_held_out_set_are_not_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "served.tar.gz"
    model.write_bytes(b"served model bytes")
    digest = registry.file_digest(model)
    assert digest is not None
    key = {"sets": ["dev"], "stories": False}
    # The served model was scored (and its scores kept) on the dev set as it was then ...
    view = _view(
        model, {"scores": {"scored on": "old dev set"}, "scored_on": key, registry.DIGEST_KEY: digest}
    )
    # ... and the dev set has since been rewritten (harder or easier examples).
    dev = tmp_path / "dev.yml"
    dev.write_text('version: "3.1"\nnlu:\n- intent: pay_bill\n  examples: |\n    - a new example\n')
    monkeypatch.setitem(evaluation.SETS, "dev", dev)
    monkeypatch.setattr(loop.evaluation, "score_model", lambda *_a, **_k: {"scored on": "new dev set"})
    assert loop._scores(view, digest, ["dev"], False, None) == {"scored on": "new dev set"}


def test_a_partial_comparison_does_not_allow_promotion(db_session: Session, tmp_path: Path) -> None:
    base_file, candidate_file = tmp_path / "base.tar.gz", tmp_path / "cand.tar.gz"
    base_file.write_bytes(b"baseline model")
    candidate_file.write_bytes(b"candidate model")
    baseline = registry.register(db_session, name="base", path=base_file, data_fingerprint="b", actor="t").id
    candidate = registry.register(
        db_session, name="cand", path=candidate_file, data_fingerprint="c", actor="t"
    ).id
    registry.mark_served(db_session, baseline, "rasa")
    registry.record_metrics(
        db_session,
        candidate,
        {
            "compared_with": "base",
            "compared_with_id": baseline,
            "scored_on": {"sets": ["own"], "stories": False},  # not the default own+dev with stories
            "regressions": [],
        },
    )
    served: list[str] = []
    with pytest.raises(registry.PromotionRefusedError):
        registry.promote(db_session, model_id=candidate, actor="ann", serve=served.append)
    assert served == []
