"""The console's tuning pages: the review queue, labelling a message, and (admins) the model registry.

Views are thin: parse, one call into tuning/, render. Every text shown is redacted by tuning/ and
transcripts/ (privacy.redact). Testers label; admins start the tuning commands (`python -m tuning`,
tuning/jobs.py) and see the registry.
"""

from __future__ import annotations

import json
import os
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

from console.auth import require, require_unsafe, services_of
from console.roles import Role
from console.services import templates_of
from console.staff import StaffView
from settings import Settings
from tuning import registry
from tuning.jobs import COMMANDS, ROOT, JobError, JobRunner
from tuning.review import (
    LabelError,
    domain_vocabulary,
    labels_of,
    review_queue,
    save_label,
    to_page_offset,
    turn_for_review,
)

router = APIRouter(include_in_schema=False)
MAX_ID = 2**31 - 1


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def job_runner(request: Request) -> JobRunner:
    """The app's runner of tuning commands (one per console process), on the console's own settings."""
    runner: JobRunner | None = getattr(request.app.state, "tuning_jobs", None)
    if runner is None:
        settings = _settings(request)
        env = dict(
            os.environ,
            DATABASE_URL=settings.effective_database_url,
            RASA_URL=settings.rasa_url,
            RASA_SHARED_SECRET=settings.rasa_shared_secret,
            TUNING_DIR=str(settings.effective_tuning_dir),
            PYTHONPATH=str(ROOT),
        )
        runner = request.app.state.tuning_jobs = JobRunner(settings.effective_tuning_dir / "jobs", env=env)
    return runner


@router.get("/review")
def review_page(request: Request, _staff: Annotated[StaffView, Depends(require(Role.VIEWER))]) -> Response:
    """User messages the model was unsure of, fell back on, or the user corrected; most frequent first."""
    threshold = _settings(request).review_low_confidence
    with services_of(request).session_factory() as session:
        items = review_queue(session, threshold=threshold)
    return templates_of(request).TemplateResponse(
        request, "review.html", {"items": items, "threshold": threshold}
    )


def _label_page(
    request: Request, staff: StaffView, turn_id: int, *, error: str | None = None, status: int = 200
) -> Response:
    with services_of(request).session_factory() as session:
        found = turn_for_review(session, turn_id)
        labels = labels_of(session, found[1]) if found else []
    if found is None:
        return templates_of(request).TemplateResponse(
            request, "error.html", {"status": 404, "message": "no such message"}, status_code=404
        )
    _, text, intent, confidence = found
    mine = next((label for label in labels if label.staff_username == staff.username), None)
    intents, entities = domain_vocabulary()
    return templates_of(request).TemplateResponse(
        request,
        "review_label.html",
        {
            "turn_id": turn_id,
            "text": text,
            "predicted": intent,
            "confidence": confidence,
            "labels": labels,
            "conflict": len({label.signature() for label in labels}) > 1,
            "intents": intents,
            "entity_names": entities,
            "chosen_intent": mine.intent if mine else (intent if intent in intents else ""),
            "chosen_entities": json.dumps(
                [
                    {
                        "start": to_page_offset(mine.text, e.start),
                        "end": to_page_offset(mine.text, e.end),
                        "entity": e.entity,
                    }
                    for e in mine.entities
                ]
                if mine
                else []
            ),
            "error": error,
        },
        status_code=status,
    )


@router.get("/review/turns/{turn_id}")
def label_page(
    request: Request,
    turn_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    staff: Annotated[StaffView, Depends(require(Role.TESTER))],
) -> Response:
    """One message to label: the right intent and entity spans marked in the text."""
    return _label_page(request, staff, turn_id)


@router.post("/review/turns/{turn_id}/label")
def label_save(
    request: Request,
    turn_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    staff: Annotated[StaffView, Depends(require_unsafe(Role.TESTER))],
    intent: Annotated[str, Form(max_length=100)],
    entities: Annotated[str, Form(max_length=20000)] = "[]",
) -> Response:
    """Store the reviewer's label (replacing their earlier one of the same text)."""
    try:
        spans = json.loads(entities)
        if not isinstance(spans, list) or not all(isinstance(s, dict) for s in spans):
            raise LabelError("entities must be a list of {start, end, entity}")
        with services_of(request).session_factory.begin() as session:
            save_label(
                session,
                turn_id=turn_id,
                intent=intent,
                entities=spans,
                staff_id=staff.id,
                staff_username=staff.username,
            )
    except (LabelError, json.JSONDecodeError) as error:
        return _label_page(request, staff, turn_id, error=str(error), status=400)
    return RedirectResponse(f"/review?labelled={turn_id}", status_code=303)


def _models_page(request: Request, *, error: str | None = None, status: int = 200) -> Response:
    with services_of(request).session_factory() as session:
        models = registry.list_models(session)
        events = registry.list_events(session)
    return templates_of(request).TemplateResponse(
        request,
        "models.html",
        {
            "models": models,
            "events": events,
            "jobs": job_runner(request).jobs(),
            "commands": COMMANDS,
            "error": error,
        },
        status_code=status,
    )


@router.get("/models")
def models_page(request: Request, _staff: Annotated[StaffView, Depends(require(Role.ADMIN))]) -> Response:
    """The model registry, its history, and the tuning commands (admins)."""
    return _models_page(request)


@router.post("/models/run/{command}")
def models_run(
    request: Request,
    command: Annotated[str, Path(max_length=20)],
    staff: Annotated[StaffView, Depends(require_unsafe(Role.ADMIN))],
) -> Response:
    """Start `python -m tuning <command>` in the background as this admin."""
    try:
        job_runner(request).start(command, actor=staff.username)
    except JobError as error:
        return _models_page(request, error=str(error), status=409)
    return RedirectResponse("/models", status_code=303)
