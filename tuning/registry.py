"""The model registry: every trained model, what it was trained on, its metrics, who served it.

Serving history is the list of `promoted` and `rolled_back` events: a promotion pushes a model on
the served stack, a rollback pops it and serves the one below again. The model Rasa was started
with enters the registry as the first entry ("baseline") the first time the loop needs it.

A comparison pins the model file: `record_metrics` keeps its SHA-256 (taken before it was scored),
and `promote` (and `rollback`, when a digest was kept) refuses a file whose bytes are no longer the
ones compared, so a model replaced on disk after `compare` (tampered, or simply another training) is
never served on the strength of someone else's scores.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import TunedModel, TunedModelEvent, utcnow

# The model Rasa served before the loop first ran enters the registry under this prefix (loop.sync_served).
BASELINE_PREFIX = "served-"
# The key of a model's metrics holding the SHA-256 of the file that was compared.
DIGEST_KEY = "model_sha256"


class RegistryError(LookupError):
    """No such model, nothing to roll back to, or a model that may not be served."""


class PromotionRefusedError(RegistryError):
    """The candidate lost a metric beyond the tolerance, was never compared, or its file is no
    longer the one compared."""


@dataclass(frozen=True)
class ModelView:
    """A registry entry as the console and the CLI list it."""

    id: int
    name: str
    path: str
    data_fingerprint: str
    examples_added: int
    trained_by: str
    trained_at: datetime
    train_seconds: float | None
    metrics: dict[str, Any]
    promoted_by: str | None
    promoted_at: datetime | None
    served: bool


@dataclass(frozen=True)
class EventView:
    """One thing that happened to a model."""

    model_id: int
    model_name: str
    action: str
    actor: str
    at: datetime
    detail: dict[str, Any]


def _view(row: TunedModel, served_id: int | None) -> ModelView:
    return ModelView(
        id=row.id,
        name=row.name,
        path=row.path,
        data_fingerprint=row.data_fingerprint,
        examples_added=row.examples_added,
        trained_by=row.trained_by,
        trained_at=row.trained_at,
        train_seconds=row.train_seconds,
        metrics=dict(row.metrics or {}),
        promoted_by=row.promoted_by,
        promoted_at=row.promoted_at,
        served=row.id == served_id,
    )


def register(
    session: Session,
    *,
    name: str,
    path: Path,
    data_fingerprint: str,
    actor: str,
    examples_added: int = 0,
    train_seconds: float | None = None,
) -> ModelView:
    """Add a model (or return the entry of that name); the caller commits."""
    row = session.scalar(select(TunedModel).where(TunedModel.name == name))
    if row is None:
        row = TunedModel(
            name=name,
            path=str(path),
            data_fingerprint=data_fingerprint,
            examples_added=examples_added,
            trained_by=actor,
            trained_at=utcnow(),
            train_seconds=train_seconds,
            metrics={},
        )
        session.add(row)
        session.flush()
        _event(session, row.id, "registered", actor, {})
    return _view(row, served_model_id(session))


def _event(session: Session, model_id: int, action: str, actor: str, detail: dict[str, Any]) -> None:
    session.add(TunedModelEvent(model_id=model_id, action=action, actor=actor, at=utcnow(), detail=detail))
    session.flush()


def served_stack(session: Session) -> list[int]:
    """Ids of the models served one after the other (last: serving now), replaying the events."""
    stack: list[int] = []
    query = (
        select(TunedModelEvent)
        .where(TunedModelEvent.action.in_(("promoted", "rolled_back")))
        .order_by(TunedModelEvent.id)
    )
    for event in session.scalars(query):
        if event.action == "promoted":
            stack.append(event.model_id)
        else:
            while stack and stack[-1] != event.model_id:
                stack.pop()
            if not stack:
                stack.append(event.model_id)
    return stack


def served_model_id(session: Session) -> int | None:
    """The model the registry says is served, if any was ever promoted."""
    stack = served_stack(session)
    return stack[-1] if stack else None


def get_model(session: Session, ref: str) -> ModelView:
    """A model by id, by name, or "latest" (the newest trained candidate; served baselines are not)."""
    query = select(TunedModel)
    if ref == "latest":
        query = query.where(TunedModel.name.not_like(f"{BASELINE_PREFIX}%"))
        row = session.scalar(query.order_by(TunedModel.id.desc()).limit(1))
    elif ref.isdigit():
        row = session.get(TunedModel, int(ref))
    else:
        row = session.scalar(query.where(TunedModel.name == ref))
    if row is None:
        raise RegistryError(f"no model {ref!r} in the registry")
    return _view(row, served_model_id(session))


def list_models(session: Session) -> list[ModelView]:
    """Every registered model, newest first."""
    served = served_model_id(session)
    return [_view(row, served) for row in session.scalars(select(TunedModel).order_by(TunedModel.id.desc()))]


def list_events(session: Session, limit: int = 50) -> list[EventView]:
    """The latest registry events, newest first."""
    query = (
        select(TunedModelEvent, TunedModel.name)
        .join(TunedModel, TunedModel.id == TunedModelEvent.model_id)
        .order_by(TunedModelEvent.id.desc())
        .limit(limit)
    )
    return [
        EventView(
            model_id=e.model_id, model_name=name, action=e.action, actor=e.actor, at=e.at, detail=e.detail
        )
        for e, name in session.execute(query).all()
    ]


def file_digest(path: str | Path) -> str | None:
    """The SHA-256 (hex) of a model file, or None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def record_metrics(
    session: Session, model_id: int, metrics: dict[str, Any], *, sha256: str | None = None
) -> None:
    """Keep the latest comparison of a model (its scores, the served model's, the regressions),
    pinned to the digest of the file scored: `sha256` (taken before scoring), else the file's now."""
    row = session.get(TunedModel, model_id)
    if row is None:
        raise RegistryError(f"no model {model_id}")
    row.metrics = {**metrics, DIGEST_KEY: sha256 or file_digest(row.path)}
    session.flush()


def changed_file(row: TunedModel) -> str | None:
    """Why the model file is not the one compared (None: the same bytes)."""
    recorded = (row.metrics or {}).get(DIGEST_KEY)
    if not recorded:
        return "no digest of its file was kept when it was compared: run compare again"
    actual = file_digest(row.path)
    if actual is None:
        return f"its file {row.path} cannot be read"
    if actual != recorded:
        return (
            f"its file {row.path} changed after compare (sha256 {actual[:12]}…, compared "
            f"{recorded[:12]}…): run compare again"
        )
    return None


def mark_served(session: Session, model_id: int, actor: str) -> None:
    """Record that `model_id` is served from now on (the baseline, before the first promotion)."""
    if served_model_id(session) != model_id:
        _event(session, model_id, "promoted", actor, {"baseline": True})


# What a comparison must have covered for its verdict to allow promotion: every held-out set the
# loop compares on by default, and the test stories (a candidate worse only on the other set or on
# whole conversations must not be served on the strength of a partial run).
PROMOTION_SETS = ("own", "dev")


def covers_promotion(scored_on: Any) -> bool:
    """True when a comparison's `scored_on` key covers `PROMOTION_SETS` and the test stories."""
    if not isinstance(scored_on, dict):
        return False
    sets = scored_on.get("sets")
    return isinstance(sets, list) and set(PROMOTION_SETS) <= set(sets) and scored_on.get("stories") is True


def promotion_refusal(session: Session, model_id: int) -> str | None:
    """Why `model_id` may not be served now, or None when its comparison allows it."""
    row = session.get(TunedModel, model_id)
    if row is None:
        raise RegistryError(f"no model {model_id}")
    served = served_model_id(session)
    if served == model_id:
        return f"{row.name} is already served"
    metrics = row.metrics or {}
    if not metrics.get("compared_with"):
        return "never compared with the served model: run compare first"
    if served is not None and metrics.get("compared_with_id") != served:
        return "compared with another model than the one served now: run compare again"
    if not covers_promotion(metrics.get("scored_on")):
        sets = ", ".join(PROMOTION_SETS)
        return f"the comparison did not cover the sets {sets} and the test stories: compare with the defaults"
    if metrics.get("regressions"):
        names = ", ".join(r["metric"] for r in metrics["regressions"])
        return f"metrics got worse beyond the tolerance: {names}"
    return None


def record_refusal(session: Session, *, model_id: int, actor: str, reason: str) -> None:
    """Keep a refused promotion in the model's history."""
    _event(session, model_id, "refused", actor, {"reason": reason})


def promote(
    session: Session,
    *,
    model_id: int,
    actor: str,
    serve: Callable[[str], object],
) -> ModelView:
    """Serve `model_id` if its last comparison (against the model served now) found no regression
    and its file still has the digest it had when compared.

    `serve(path)` makes Rasa load the file; it runs before anything is recorded, so a failed load
    changes nothing. PromotionRefusedError says why a model may not be served (nothing recorded:
    the caller keeps the refusal with `record_refusal` in its own transaction).
    """
    reason = promotion_refusal(session, model_id)
    row = session.get(TunedModel, model_id)
    assert row is not None
    reason = reason or changed_file(row)  # checked last, right before Rasa reads the file
    if reason is not None:
        raise PromotionRefusedError(reason)
    served = served_model_id(session)
    serve(row.path)
    row.promoted_by, row.promoted_at = actor, utcnow()
    _event(session, model_id, "promoted", actor, {"replaced": served})
    return _view(row, model_id)


def rollback(session: Session, *, actor: str, serve: Callable[[str], object]) -> ModelView:
    """Serve again the model served before the current one."""
    stack = served_stack(session)
    if len(stack) < 2:
        raise RegistryError("nothing to roll back to: no earlier served model")
    previous = session.get(TunedModel, stack[-2])
    assert previous is not None
    if (previous.metrics or {}).get(DIGEST_KEY) and (reason := changed_file(previous)) is not None:
        raise RegistryError(f"not rolled back to {previous.name}: {reason}")
    serve(previous.path)
    _event(session, previous.id, "rolled_back", actor, {"replaced": stack[-1]})
    return _view(previous, previous.id)
