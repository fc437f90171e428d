"""Standing mandates (autopay) for staff: every user's mandates, or one user's, and for admins
pause, resume and revoke with a reason — a page and its JSON twins (issue 13, item 8).

Viewers and up read; only admins change a mandate, audited with who and why in payments.mandates.
Each route parses, makes one call, renders.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from console.auth import require, require_unsafe
from console.roles import Role
from console.services import payments_of, templates_of
from console.staff import StaffView
from console.views import MAX_ID, _parse_id
from payments.errors import PaymentsError
from payments.mandates import MandateNotChangeableError, MandateNotFoundError, MandateStatus

router = APIRouter()
MandateId = Annotated[int, Path(ge=1, le=MAX_ID)]
NOTICE = "mandates_notice"
NewStatus = Literal["paused", "active", "revoked"]
DONE = {"paused": "paused", "active": "resumed", "revoked": "revoked"}


class MandateStatusBody(BaseModel):
    """An admin's move of a mandate: `status` paused, active (resume) or revoked, and why (audited)."""

    model_config = ConfigDict(extra="forbid")
    status: NewStatus
    reason: str = Field(min_length=1, max_length=500)


def _http_error(error: PaymentsError) -> HTTPException:
    """404 no such live mandate, 409 the move does not apply in its state."""
    if isinstance(error, MandateNotFoundError):
        return HTTPException(404, "no such live mandate")
    if isinstance(error, MandateNotChangeableError):
        return HTTPException(409, f"the mandate cannot move from {error.params.get('status')}")
    return HTTPException(422, error.code)


@router.get("/mandates", include_in_schema=False)
def mandates_page(request: Request, staff: Annotated[StaffView, Depends(require(Role.VIEWER))]) -> Response:
    """Every live mandate (and ended ones with ?ended=1), or one user's (?user_id=)."""
    params = dict(request.query_params)
    rows = payments_of(request).mandates.list_mandates(
        user_id=_parse_id(params.get("user_id")),
        include_ended=params.get("ended") == "1",
        include_awaiting_code=True,
    )
    return templates_of(request).TemplateResponse(
        request,
        "mandates.html",
        {"rows": rows, "params": params, "notice": request.session.pop(NOTICE, None)},
    )


@router.post("/mandates/{mandate_id}/status", include_in_schema=False)
def mandate_status_form(
    request: Request,
    mandate_id: MandateId,
    staff: Annotated[StaffView, Depends(require_unsafe(Role.ADMIN))],
    status: Annotated[NewStatus, Form()],
    reason: Annotated[str, Form(min_length=1, max_length=500)],
) -> Response:
    """Pause, resume or revoke one mandate (admins; audited with who and why), then back to the list."""
    try:
        payments_of(request).mandates.staff_move(
            mandate_id=mandate_id, new=MandateStatus(status), staff=staff.username, reason=reason.strip()
        )
    except PaymentsError as error:
        raise _http_error(error) from None
    request.session[NOTICE] = f"Mandate #{mandate_id} {DONE[status]}."
    return RedirectResponse("/mandates", status_code=303)


@router.get("/api/mandates")
def api_mandates(
    request: Request,
    _staff: Annotated[StaffView, Depends(require(Role.VIEWER))],
    user_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    ended: bool = False,
) -> Any:
    """Mandates (live ones; ended too with `ended`), every user's or one user's."""
    return jsonable_encoder(payments_of(request).mandates.list_mandates(user_id=user_id, include_ended=ended))


@router.post(
    "/api/mandates/{mandate_id}/status",
    responses={
        403: {"description": "admins only"},
        404: {"description": "no such live mandate"},
        409: {"description": "the move does not apply in its state"},
    },
)
def api_mandate_status(
    request: Request,
    mandate_id: MandateId,
    body: MandateStatusBody,
    staff: Annotated[StaffView, Depends(require_unsafe(Role.ADMIN))],
) -> Any:
    """Pause, resume or revoke one mandate (admins); audited with who and why."""
    try:
        view = payments_of(request).mandates.staff_move(
            mandate_id=mandate_id, new=MandateStatus(body.status), staff=staff.username, reason=body.reason
        )
    except PaymentsError as error:
        raise _http_error(error) from None
    return jsonable_encoder(view)
