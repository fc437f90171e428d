"""attack14: promote serves whatever file sits at the registered path, compared or not."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from db.models import TunedModel
from tuning import registry

FULL = {"sets": ["dev", "own"], "stories": True}  # a comparison that allows promotion


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
        db_session,
        candidate,
        {"compared_with": "base", "compared_with_id": baseline, "scored_on": FULL, "regressions": []},
    )
    candidate_file.write_bytes(b"something else entirely, never compared")  # swapped on disk

    served: list[str] = []
    with pytest.raises((registry.PromotionRefusedError, registry.RegistryError)):
        registry.promote(db_session, model_id=candidate, actor="ann", serve=served.append)
    assert served == []


def _compared(session: Session, folder: Path) -> tuple[int, int, Path]:
    """A served baseline and a candidate compared with it (digest pinned now); the candidate's file."""
    base_file, candidate_file = folder / "base.tar.gz", folder / "cand.tar.gz"
    base_file.write_bytes(b"baseline model")
    candidate_file.write_bytes(b"the model that was compared")
    baseline = registry.register(session, name="base", path=base_file, data_fingerprint="b", actor="t").id
    candidate = registry.register(
        session, name="cand", path=candidate_file, data_fingerprint="c", actor="t"
    ).id
    registry.mark_served(session, baseline, "rasa")
    registry.record_metrics(
        session,
        candidate,
        {"compared_with": "base", "compared_with_id": baseline, "scored_on": FULL, "regressions": []},
    )
    return baseline, candidate, candidate_file


def test_the_refusal_says_the_file_changed_and_what_to_do(db_session: Session, tmp_path: Path) -> None:
    _, candidate, candidate_file = _compared(db_session, tmp_path)
    candidate_file.write_bytes(b"another model")
    served: list[str] = []
    with pytest.raises(registry.PromotionRefusedError, match=r"changed after compare.*run compare again"):
        registry.promote(db_session, model_id=candidate, actor="ann", serve=served.append)
    assert served == [] and registry.get_model(db_session, "cand").promoted_by is None


def test_the_unchanged_file_is_promoted(db_session: Session, tmp_path: Path) -> None:
    _, candidate, candidate_file = _compared(db_session, tmp_path)
    candidate_file.write_bytes(b"the model that was compared")  # rewritten, same bytes
    served: list[str] = []
    assert registry.promote(db_session, model_id=candidate, actor="ann", serve=served.append).served
    assert served == [str(candidate_file)]


def test_a_deleted_file_is_not_promoted(db_session: Session, tmp_path: Path) -> None:
    _, candidate, candidate_file = _compared(db_session, tmp_path)
    candidate_file.unlink()
    with pytest.raises(registry.PromotionRefusedError, match="cannot be read"):
        registry.promote(db_session, model_id=candidate, actor="ann", serve=lambda _p: None)


def test_a_comparison_without_a_digest_is_not_trusted(db_session: Session, tmp_path: Path) -> None:
    # A comparison kept before digests were (or one whose file was unreadable then).
    _, candidate, _ = _compared(db_session, tmp_path)
    row = db_session.get(TunedModel, candidate)
    assert row is not None and row.metrics[registry.DIGEST_KEY]
    row.metrics = {k: v for k, v in row.metrics.items() if k != registry.DIGEST_KEY}
    db_session.flush()
    with pytest.raises(registry.PromotionRefusedError, match="no digest"):
        registry.promote(db_session, model_id=candidate, actor="ann", serve=lambda _p: None)


def test_rollback_refuses_a_previous_model_replaced_on_disk(db_session: Session, tmp_path: Path) -> None:
    baseline, candidate, _ = _compared(db_session, tmp_path)
    registry.record_metrics(db_session, baseline, {"scores": {}})  # compare pins the served file too
    registry.promote(db_session, model_id=candidate, actor="ann", serve=lambda _p: None)
    (tmp_path / "base.tar.gz").write_bytes(b"not the baseline any more")
    served: list[str] = []
    with pytest.raises(registry.RegistryError, match="not rolled back to base"):
        registry.rollback(db_session, actor="cy", serve=served.append)
    assert served == [] and registry.served_model_id(db_session) == candidate


def test_compare_does_not_reuse_scores_of_another_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from tuning import loop

    path = tmp_path / "m.tar.gz"
    path.write_bytes(b"new bytes")
    scored: list[Path] = []

    def score(model: Path, *_args: object, **_kwargs: object) -> dict[str, object]:
        scored.append(model)
        return {"fresh": True}

    monkeypatch.setattr(loop.evaluation, "score_model", score)
    key = loop._scored_on(["dev"], False)  # the same sets with the same contents
    view = registry.ModelView(
        id=1,
        name="m",
        path=str(path),
        data_fingerprint="f",
        examples_added=0,
        trained_by="t",
        trained_at=datetime.now(UTC),
        train_seconds=None,
        metrics={"scores": {"old": True}, "scored_on": key, registry.DIGEST_KEY: "0" * 64},
        promoted_by=None,
        promoted_at=None,
        served=False,
    )
    digest = registry.file_digest(path)
    assert digest is not None
    assert loop._scores(view, digest, ["dev"], False, None) == {"fresh": True} and scored == [path]
    same = registry.ModelView(**{**view.__dict__, "metrics": {**view.metrics, registry.DIGEST_KEY: digest}})
    assert loop._scores(same, digest, ["dev"], False, None) == {"old": True} and len(scored) == 1
