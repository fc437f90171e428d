"""Second approval of large payments ("multi-signature"), for admins: a page and its JSON twin.

A payment at or above the second-approval threshold waits in `awaiting_approval` after the user's
confirmation; an admin reads the consent the user gave and approves (it is charged, or scheduled
when dated later) or rejects it with a reason (it is cancelled). The rules, the compare-and-set and
the exactly-once charge live in payments/; each route here makes one call and renders the answer.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from console.api import has_control_characters
from console.auth import require, require_unsafe
from console.roles import Role
from console.services import payments_of, templates_of
from console.staff import StaffView
from console.views import MAX_ID
from payments.errors import PaymentNotFoundError, PaymentNotPendingError, PaymentsError

router = APIRouter()
PaymentId = Annotated[int, Path(ge=1, le=MAX_ID)]
NOTICE = "approvals_notice"
REASON_MAX = 500


class RejectRequest(BaseModel):
    """Why the payment is refused (kept in the audit log)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=REASON_MAX)

    @field_validator("reason")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.strip() or has_control_characters(value):
            raise ValueError("a reason in plain text is required")
        return value.strip()


def _approver(staff: StaffView) -> str:
    return f"staff:{staff.username}"


def _http_error(error: PaymentsError) -> HTTPException:
    """The status for a domain error: unknown payment 404, already decided 409, anything else 422."""
    if isinstance(error, PaymentNotFoundError):
        return HTTPException(404, "no such payment")
    if isinstance(error, PaymentNotPendingError):
        status = error.params.get("status")
        return HTTPException(409, f"this payment is no longer waiting for approval (it is {status})")
    return HTTPException(422, f"the payment cannot be decided ({error.code})")


@router.get("/approvals", include_in_schema=False)
def approvals_page(request: Request, _staff: Annotated[StaffView, Depends(require(Role.ADMIN))]) -> Response:
    """Payments waiting for a second approval, each with the user's consent and Approve / Reject."""
    waiting = payments_of(request).payments_awaiting_approval()
    notice = request.session.pop(NOTICE, None)
    return templates_of(request).TemplateResponse(
        request, "approvals.html", {"approvals": waiting, "notice": notice, "reason_max": REASON_MAX}
    )


@router.post("/approvals/{payment_id}/approve", include_in_schema=False)
def approve_form(
    request: Request, payment_id: PaymentId, staff: Annotated[StaffView, Depends(require_unsafe(Role.ADMIN))]
) -> Response:
    """Approve from the page, then back to the list with the outcome."""
    try:
        result = payments_of(request).approve_payment(payment_id=payment_id, approver=_approver(staff))
    except PaymentsError as error:
        raise _http_error(error) from None
    request.session[NOTICE] = f"Payment #{payment_id} approved: {result.status.value}."
    return RedirectResponse("/approvals", status_code=303)


@router.post("/approvals/{payment_id}/reject", include_in_schema=False)
def reject_form(
    request: Request,
    payment_id: PaymentId,
    staff: Annotated[StaffView, Depends(require_unsafe(Role.ADMIN))],
    reason: Annotated[str, Form(max_length=REASON_MAX)] = "",
) -> Response:
    """Reject from the page with a reason, then back to the list."""
    if not reason.strip() or has_control_characters(reason):
        raise HTTPException(422, "reason: a reason in plain text is required to reject a payment")
    try:
        view = payments_of(request).reject_payment(
            payment_id=payment_id, approver=_approver(staff), reason=reason.strip()
        )
    except PaymentsError as error:
        raise _http_error(error) from None
    request.session[NOTICE] = f"Payment #{payment_id} rejected: {view.status.value}."
    return RedirectResponse("/approvals", status_code=303)


@router.get("/api/approvals")
def api_approvals(request: Request, _staff: Annotated[StaffView, Depends(require(Role.ADMIN))]) -> Any:
    """Payments waiting for a second approval, oldest first, with the consent text the user confirmed."""
    return jsonable_encoder(payments_of(request).payments_awaiting_approval())


@router.post(
    "/api/approvals/{payment_id}/approve",
    responses={404: {"description": "no such payment"}, 409: {"description": "rejected or cancelled"}},
)
def api_approve(
    request: Request, payment_id: PaymentId, staff: Annotated[StaffView, Depends(require_unsafe(Role.ADMIN))]
) -> Any:
    """Approve: the payment is charged once (or scheduled); approving again returns the same result."""
    try:
        result = payments_of(request).approve_payment(payment_id=payment_id, approver=_approver(staff))
    except PaymentsError as error:
        raise _http_error(error) from None
    return jsonable_encoder(result)


@router.post(
    "/api/approvals/{payment_id}/reject",
    responses={404: {"description": "no such payment"}, 409: {"description": "already decided"}},
)
def api_reject(
    request: Request,
    payment_id: PaymentId,
    body: RejectRequest,
    staff: Annotated[StaffView, Depends(require_unsafe(Role.ADMIN))],
) -> Any:
    """Reject with a reason: the payment is cancelled and never charged."""
    try:
        view = payments_of(request).reject_payment(
            payment_id=payment_id, approver=_approver(staff), reason=body.reason
        )
    except PaymentsError as error:
        raise _http_error(error) from None
    return jsonable_encoder(view)
