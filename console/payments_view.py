"""Payments for staff: a filtered list, one payment (consent, audit trail, refunds, Stripe's record)
and refunds for admins — pages and their JSON twins.

Viewers and up read; only admins refund. The rules (succeeded only, never more than was charged,
once per idempotency key) live in payments/refunds.py; each route parses, makes one call, renders.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Header, HTTPException, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from console.auth import require, require_unsafe
from console.roles import Role
from console.services import payments_of, templates_of
from console.staff import StaffView
from console.views import MAX_ID, _parse_day, _parse_id
from payments.errors import (
    AmountInvalidError,
    PaymentNotFoundError,
    PaymentNotHeldError,
    PaymentsError,
    RefundAmountError,
    RefundKeyReusedError,
    RefundNotAllowedError,
)
from payments.money import format_money
from payments.oversight import PaymentFilter
from payments.statuses import PaymentStatus

router = APIRouter()
PaymentId = Annotated[int, Path(ge=1, le=MAX_ID)]
NOTICE = "payments_notice"
KEY_PATTERN = r"^[A-Za-z0-9_.:-]{8,100}$"
PAGE_SIZE = 200
STAFF_LOCALE = "en_IE"


class RefundRequestBody(BaseModel):
    """A refund: `amount_minor` in the payment's minor units (omit it for everything left)."""

    model_config = ConfigDict(extra="forbid")
    # Strict: a JSON boolean or a string is refused (422), never read as a number of minor units.
    amount_minor: StrictInt | None = Field(default=None, ge=1, le=10**12)
    idempotency_key: str | None = Field(
        default=None,
        pattern=KEY_PATTERN,
        description="the same key again returns the same refund; or send the Idempotency-Key header",
    )


class CancelRequestBody(BaseModel):
    """Why staff cancel a held payment (kept in the audit log)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=500)


def _requester(staff: StaffView) -> str:
    return f"staff:{staff.username}"


def _http_error(error: PaymentsError) -> HTTPException:
    """404 unknown payment, 409 not refundable or key reused, 422 a bad amount."""
    if isinstance(error, PaymentNotFoundError):
        return HTTPException(404, "no such payment")
    if isinstance(error, RefundNotAllowedError):
        return HTTPException(
            409, f"only a succeeded payment can be refunded (it is {error.params.get('status')})"
        )
    if isinstance(error, RefundKeyReusedError):
        return HTTPException(409, "this idempotency key belongs to another refund")
    if isinstance(error, RefundAmountError):
        left = format_money(error.params["refundable"], STAFF_LOCALE)
        return HTTPException(422, f"the amount must be more than zero and at most {left} (left to refund)")
    if isinstance(error, PaymentNotHeldError):
        return HTTPException(
            409,
            "only a payment still waiting for its day or time lock can be cancelled "
            f"(it is {error.params.get('status')})",
        )
    if isinstance(error, AmountInvalidError):
        return HTTPException(422, "the amount could not be read; write it like 12.50")
    return HTTPException(422, f"the refund was refused ({error.code})")


def payment_filter(params: dict[str, str]) -> PaymentFilter:
    """The staff filter from query parameters; unreadable ones are ignored."""
    status = params.get("status") or ""
    return PaymentFilter(
        status=PaymentStatus(status) if status in set(PaymentStatus) else None,
        user_id=_parse_id(params.get("user_id")),
        biller_id=_parse_id(params.get("biller_id")),
        created_from=_parse_day(params.get("from")),
        created_to=_parse_day(params.get("to")),
    )


@router.get("/payments", include_in_schema=False)
def payments_page(request: Request, _staff: Annotated[StaffView, Depends(require(Role.VIEWER))]) -> Response:
    """Payments filtered by status, user, biller and creation day."""
    params = dict(request.query_params)
    service = payments_of(request)
    rows = service.staff_payments(flt=payment_filter(params), limit=PAGE_SIZE)
    return templates_of(request).TemplateResponse(
        request,
        "payments.html",
        {
            "rows": rows,
            "params": params,
            "statuses": list(PaymentStatus),
            "billers": service.staff_billers(),
            "page_size": PAGE_SIZE,
        },
    )


@router.get("/payments/{payment_id}", include_in_schema=False)
def payment_page(
    request: Request, payment_id: PaymentId, staff: Annotated[StaffView, Depends(require(Role.VIEWER))]
) -> Response:
    """One payment: consent, audit trail, refunds, Stripe's object, and the refund form for admins."""
    try:
        detail = payments_of(request).staff_payment_detail(payment_id=payment_id)
    except PaymentsError as error:
        raise _http_error(error) from None
    return templates_of(request).TemplateResponse(
        request,
        "payment.html",
        {
            "d": detail,
            "notice": request.session.pop(NOTICE, None),
            "can_refund": staff.role.allows(Role.ADMIN) and detail.refundable.amount_minor > 0,
            "can_cancel": staff.role.allows(Role.ADMIN) and detail.waiting,
            "refund_key": str(uuid.uuid4()),  # one per rendered form: a double submit refunds once
            "refundable_text": format_money(detail.refundable, STAFF_LOCALE),
            "processor_json": json.dumps(detail.processor_object, indent=2, sort_keys=True, default=str)
            if detail.processor_object is not None
            else None,
            "money": lambda m: format_money(m, STAFF_LOCALE),
            # Issue 13 item 5: every risk decision about this payment (score, reasons, verdict).
            "risk": payments_of(request).staff_risk_decisions(payment_id=payment_id),
        },
    )


# --- issue 13 item 5: payments the risk check flagged (asked for a code or refused) -----------------
@router.get("/risk", include_in_schema=False)
def risk_page(request: Request, _staff: Annotated[StaffView, Depends(require(Role.VIEWER))]) -> Response:
    """The latest risk decisions that asked for a one-time code or refused, newest first."""
    rows = payments_of(request).staff_flagged_decisions(limit=PAGE_SIZE)
    return templates_of(request).TemplateResponse(request, "risk.html", {"rows": rows})


@router.post("/payments/{payment_id}/refund", include_in_schema=False)
def refund_form(
    request: Request,
    payment_id: PaymentId,
    staff: Annotated[StaffView, Depends(require_unsafe(Role.ADMIN))],
    idempotency_key: Annotated[str, Form(pattern=KEY_PATTERN)],
    amount: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Refund from the payment page (empty amount: everything left), then back to it.

    The amount is read by the core in the payment's own currency; the form names none.
    """
    try:
        refund = payments_of(request).refund_payment(
            payment_id=payment_id,
            amount_text=amount if amount.strip() else None,
            locale=STAFF_LOCALE,
            requested_by=_requester(staff),
            idempotency_key=idempotency_key,
        )
    except PaymentsError as error:
        raise _http_error(error) from None
    request.session[NOTICE] = (
        f"Refund #{refund.refund_id} of {format_money(refund.amount, STAFF_LOCALE)}: {refund.status.value}."
    )
    return RedirectResponse(f"/payments/{payment_id}", status_code=303)


@router.post("/payments/{payment_id}/cancel", include_in_schema=False)
def cancel_form(
    request: Request,
    payment_id: PaymentId,
    staff: Annotated[StaffView, Depends(require_unsafe(Role.ADMIN))],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Cancel a payment held by its time lock (or waiting for its day), then back to it (audited)."""
    try:
        payments_of(request).cancel_held_payment(
            payment_id=payment_id, staff=_requester(staff), reason=reason.strip()
        )
    except PaymentsError as error:
        raise _http_error(error) from None
    request.session[NOTICE] = f"Payment #{payment_id} cancelled before it was charged; the user is told."
    return RedirectResponse(f"/payments/{payment_id}", status_code=303)


@router.post(
    "/api/payments/{payment_id}/cancel",
    responses={
        403: {"description": "admins only"},
        404: {"description": "no such payment"},
        409: {"description": "not waiting for its day or time lock any more"},
    },
)
def api_cancel(
    request: Request,
    payment_id: PaymentId,
    body: CancelRequestBody,
    staff: Annotated[StaffView, Depends(require_unsafe(Role.ADMIN))],
) -> Any:
    """Cancel a payment held by its time lock (or waiting for its day): never charged; audited."""
    try:
        view = payments_of(request).cancel_held_payment(
            payment_id=payment_id, staff=_requester(staff), reason=body.reason
        )
    except PaymentsError as error:
        raise _http_error(error) from None
    return jsonable_encoder(view)


@router.get("/api/payments")
def api_payments(
    request: Request,
    _staff: Annotated[StaffView, Depends(require(Role.VIEWER))],
    status: PaymentStatus | None = None,
    user_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    biller_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**6)] = 0,
) -> Any:
    """Payments matching the filters (creation day in UTC, inclusive), newest first."""
    flt = PaymentFilter(
        status=status, user_id=user_id, biller_id=biller_id, created_from=date_from, created_to=date_to
    )
    return jsonable_encoder(payments_of(request).staff_payments(flt=flt, limit=limit, offset=offset))


@router.get("/api/payments/{payment_id}", responses={404: {"description": "no such payment"}})
def api_payment(
    request: Request, payment_id: PaymentId, _staff: Annotated[StaffView, Depends(require(Role.VIEWER))]
) -> Any:
    """One payment with its consent, audit trail, refunds and Stripe's PaymentIntent."""
    try:
        return jsonable_encoder(payments_of(request).staff_payment_detail(payment_id=payment_id))
    except PaymentsError as error:
        raise _http_error(error) from None


@router.post(
    "/api/payments/{payment_id}/refunds",
    responses={
        403: {"description": "admins only"},
        404: {"description": "no such payment"},
        409: {"description": "not a succeeded payment, or the key belongs to another refund"},
        422: {"description": "amount not positive or above what is left to refund; no idempotency key"},
    },
)
def api_refund(
    request: Request,
    payment_id: PaymentId,
    body: RefundRequestBody,
    staff: Annotated[StaffView, Depends(require_unsafe(Role.ADMIN))],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", pattern=KEY_PATTERN)] = None,
) -> Any:
    """Refund a succeeded payment (all that is left unless `amount_minor`); once per idempotency key."""
    key = body.idempotency_key or idempotency_key
    if key is None:
        raise HTTPException(422, "an idempotency key is required (Idempotency-Key header or idempotency_key)")
    try:
        refund = payments_of(request).refund_payment(
            payment_id=payment_id,
            amount_minor=body.amount_minor,
            requested_by=_requester(staff),
            idempotency_key=key,
        )
    except PaymentsError as error:
        raise _http_error(error) from None
    return jsonable_encoder(refund)
