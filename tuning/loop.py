"""The tuning loop's steps on the configured database and Rasa server: what the CLI and the console call.

export → train (a candidate beside the served model) → compare (candidate vs served) → promote
(serve it without restarting Rasa, only if nothing got worse) → rollback (serve the previous one).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

import rasa_client
from scripts.train import current_model_path
from scripts.train import fingerprint as project_fingerprint
from settings import Settings
from tuning import evaluation, registry
from tuning.export import ExportResult, export
from tuning.training import Candidate, train_candidate

DEFAULT_SETS = registry.PROMOTION_SETS


@dataclass(frozen=True)
class Comparison:
    """A finished comparison: both models, the regressions, where the report is."""

    candidate: registry.ModelView
    served: registry.ModelView
    regressions: list[evaluation.Regression]
    report: Path


def tuning_dir(settings: Settings) -> Path:
    """TUNING_DIR, made private (0700) like var/."""
    path = settings.effective_tuning_dir
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def export_reviewed(settings: Settings, session_factory: sessionmaker[Session]) -> ExportResult:
    """Export reviewed examples and conversations into TUNING_DIR/exports/<UTC time>/."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    with session_factory() as session:
        return export(session, tuning_dir(settings) / "exports" / stamp)


def train(
    settings: Settings,
    session_factory: sessionmaker[Session],
    *,
    actor: str,
    on_line: Callable[[str], None] | None = None,
) -> tuple[ExportResult, Candidate, registry.ModelView]:
    """Export, then train (or reuse) the candidate and register it."""
    exported = export_reviewed(settings, session_factory)
    candidate = train_candidate(exported.nlu_path, tuning_dir(settings) / "models", on_line=on_line)
    with session_factory.begin() as session:
        view = registry.register(
            session,
            name=candidate.name,
            path=candidate.path,
            data_fingerprint=candidate.data_fingerprint,
            actor=actor,
            examples_added=exported.examples,
            train_seconds=candidate.seconds,
        )
    return exported, candidate, view


def _serving_file(settings: Settings) -> Path:
    """The model file Rasa serves now (asked over the paychat channel)."""
    info = rasa_client.served_model(settings.rasa_url, settings.rasa_shared_secret)
    if info.get("model_file"):
        return Path(info["model_file"])
    # Started with `--model`: Rasa knows only the file name. make run and the tests start it with
    # the project's model (scripts/train.py).
    project = current_model_path()
    if info.get("model_name") in (project.name, "current.tar.gz"):
        return project
    promoted = promoted_model(settings)  # make run started Rasa with the promoted model
    if promoted is not None and info.get("model_name") == promoted.name:
        return promoted
    raise registry.RegistryError(f"cannot tell which file Rasa serves ({info.get('model_name')})")


def sync_served(settings: Settings, session: Session) -> registry.ModelView:
    """The served model's registry entry, registering Rasa's actual model as served if they differ."""
    path = _serving_file(settings)
    for model in registry.list_models(session):
        if Path(model.path) == path:
            break
    else:
        stem = path.name.removesuffix(".tar.gz")
        model = registry.register(
            session,
            name=f"{registry.BASELINE_PREFIX}{stem}",
            path=path,
            data_fingerprint=stem.rsplit("-", 1)[-1],
            actor="rasa",
        )
    if not model.served:
        registry.mark_served(session, model.id, "rasa")
    return registry.get_model(session, str(model.id))


def _digest(model: registry.ModelView) -> str:
    digest = registry.file_digest(model.path)
    if digest is None:
        raise registry.RegistryError(f"cannot read the model file of {model.name}: {model.path}")
    return digest


def _scored_on(sets: list[str], stories: bool) -> dict[str, Any]:
    """What scores were taken on: the set names, whether stories ran, a digest of their contents."""
    return {"sets": sorted(sets), "stories": stories, "data": evaluation.data_digest(sets, stories=stories)}


def _scores(
    model: registry.ModelView,
    digest: str,
    sets: list[str],
    stories: bool,
    on_step: Callable[[str], None] | None,
) -> dict[str, Any]:
    """The model's scores: those kept, if they were taken from this very file on these sets and
    stories with the same contents (`_scored_on`)."""
    cached = model.metrics.get("scores")
    key = _scored_on(sets, stories)
    if cached and model.metrics.get("scored_on") == key and model.metrics.get(registry.DIGEST_KEY) == digest:
        return dict(cached)
    scores = evaluation.score_model(Path(model.path), sets, stories=stories, on_step=on_step)
    if registry.file_digest(model.path) != digest:
        raise registry.RegistryError(f"the model file of {model.name} changed while it was scored")
    return scores


def compare(
    settings: Settings,
    session_factory: sessionmaker[Session],
    *,
    ref: str = "latest",
    sets: list[str] | None = None,
    stories: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> Comparison:
    """Score the candidate and the served model, record the comparison, write the report."""
    chosen = list(sets or DEFAULT_SETS)
    with session_factory.begin() as session:
        served = sync_served(settings, session)
        candidate = registry.get_model(session, ref)
    if candidate.id == served.id:
        raise registry.RegistryError(f"{candidate.name} is the served model: nothing to compare")
    # Each file's digest is taken before it is scored and kept with its scores: promote serves only
    # these bytes (registry.changed_file).
    served_digest, candidate_digest = _digest(served), _digest(candidate)
    served_scores = _scores(served, served_digest, chosen, stories, on_step)
    candidate_scores = _scores(candidate, candidate_digest, chosen, stories, on_step)
    found = evaluation.regressions(
        served_scores,
        candidate_scores,
        tolerance=settings.tuning_promote_tolerance,
        intent_tolerance=settings.tuning_intent_tolerance,
    )
    report = evaluation.write_report(
        served.name,
        served_scores,
        candidate.name,
        candidate_scores,
        found,
        tuning_dir(settings) / "reports" / candidate.name,
    )
    key = _scored_on(chosen, stories)
    with session_factory.begin() as session:
        registry.record_metrics(
            session,
            candidate.id,
            {
                "scores": candidate_scores,
                "scored_on": key,
                "headline": evaluation.headline(candidate_scores),
                "compared_with": served.name,
                "compared_with_id": served.id,
                "served_headline": evaluation.headline(served_scores),
                "regressions": [r.__dict__ for r in found],
                "report": str(report),
            },
            sha256=candidate_digest,
        )
        if (
            not served.metrics.get("scores")
            or served.metrics.get("scored_on") != key
            or served.metrics.get(registry.DIGEST_KEY) != served_digest
        ):
            registry.record_metrics(
                session,
                served.id,
                {
                    **served.metrics,
                    "scores": served_scores,
                    "scored_on": key,
                    "headline": evaluation.headline(served_scores),
                },
                sha256=served_digest,
            )
        candidate = registry.get_model(session, str(candidate.id))
    return Comparison(candidate=candidate, served=served, regressions=found, report=report)


SERVED_FILE = "served.json"


def remember_served(settings: Settings, path: str) -> None:
    """Note which model is served, with the project's training fingerprint, for the next start."""
    note = {"model_file": path, "project_fingerprint": project_fingerprint()}
    target = tuning_dir(settings) / SERVED_FILE
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(note), encoding="utf-8")
    os.replace(tmp, target)


def promoted_model(settings: Settings) -> Path | None:
    """The model to serve at start instead of the project's: the last one promoted or rolled back to,
    while the project's training data is what it was then (else the project's own model wins)."""
    try:
        note = json.loads((settings.effective_tuning_dir / SERVED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    path = Path(str(note.get("model_file", "")))
    if note.get("project_fingerprint") != project_fingerprint() or not path.is_file():
        return None
    return path


def _serve(settings: Settings) -> Callable[[str], object]:
    def serve(path: str) -> object:
        info = rasa_client.load_model(settings.rasa_url, settings.rasa_shared_secret, path)
        remember_served(settings, path)
        return info

    return serve


def promote(
    settings: Settings, session_factory: sessionmaker[Session], *, ref: str = "latest", actor: str
) -> registry.ModelView:
    """Serve the candidate if its comparison with the served model found no regression."""
    with session_factory.begin() as session:
        sync_served(settings, session)
        model = registry.get_model(session, ref)
    try:
        with session_factory.begin() as session:
            return registry.promote(session, model_id=model.id, actor=actor, serve=_serve(settings))
    except registry.PromotionRefusedError as refused:
        with session_factory.begin() as session:  # the refusal itself is kept
            registry.record_refusal(session, model_id=model.id, actor=actor, reason=str(refused))
        raise


def rollback(settings: Settings, session_factory: sessionmaker[Session], *, actor: str) -> registry.ModelView:
    """Serve the model served before the current one."""
    with session_factory.begin() as session:
        sync_served(settings, session)
    with session_factory.begin() as session:
        return registry.rollback(session, actor=actor, serve=_serve(settings))
