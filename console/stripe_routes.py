"""Public routes for the card processor and its customers: Stripe webhooks and 3-D Secure pages.

No staff login here. `POST /stripe/webhook` is authenticated by Stripe's signature (checked in
payments/); the sandbox's bank-challenge page by the HMAC in its link plus the session's CSRF token
on the answer; the return page only makes payments/ ask Stripe what happened.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from console.auth import verify_csrf
from console.services import payments_of, templates_of
from payments.errors import PaymentNotFoundError, PaymentNotPendingError, WebhookInvalidError
from payments.views import PaymentResult
from rasa_client.wording import failure_reason
from settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
INTENT_ID = r"^[A-Za-z0-9_]{1,255}$"
SIGNATURE = r"^[0-9a-f]{0,128}$"
LINK_INVALID = "This payment link is not valid."


def _require_sandbox(request: Request) -> None:
    # With real Stripe the bank hosts the challenge: this page must not exist at all.
    settings: Settings = request.app.state.settings
    if not settings.uses_stripe_sandbox:
        raise HTTPException(status_code=404, detail="Not Found")


def _challenge_page(
    request: Request, result: PaymentResult, *, intent_id: str, sig: str, status_code: int = 200
) -> Response:
    return templates_of(request).TemplateResponse(
        request,
        "sandbox_3ds.html",
        {
            "payment": result,
            "intent_id": intent_id,
            "sig": sig,
            "failure_reason": failure_reason(result.failure_code, result.failure_message),
        },
        status_code=status_code,
    )


@router.get("/sandbox/3ds/{payment_intent_id}")
async def sandbox_challenge(
    request: Request,
    payment_intent_id: Annotated[str, Path(pattern=INTENT_ID)],
    sig: Annotated[str, Query(pattern=SIGNATURE)] = "",
) -> Response:
    """The sandbox's bank challenge for one payment: amount, biller, Authenticate / Fail."""
    _require_sandbox(request)
    service = payments_of(request)
    try:
        result = await asyncio.to_thread(
            service.sandbox_challenge, payment_intent_id=payment_intent_id, signature=sig
        )
    except PaymentNotFoundError as error:
        raise HTTPException(status_code=404, detail=LINK_INVALID) from error
    return _challenge_page(request, result, intent_id=payment_intent_id, sig=sig)


@router.post("/sandbox/3ds/{payment_intent_id}")
async def answer_sandbox_challenge(
    request: Request,
    payment_intent_id: Annotated[str, Path(pattern=INTENT_ID)],
    outcome: Annotated[Literal["authenticate", "fail"], Form()],
    sig: Annotated[str, Form(pattern=SIGNATURE)] = "",
) -> Response:
    """Pass or fail the challenge, then show what became of the payment."""
    _require_sandbox(request)
    await verify_csrf(request)
    service = payments_of(request)
    try:
        result = await asyncio.to_thread(
            service.complete_sandbox_challenge,
            payment_intent_id=payment_intent_id,
            signature=sig,
            success=outcome == "authenticate",
        )
    except PaymentNotFoundError as error:
        raise HTTPException(status_code=404, detail=LINK_INVALID) from error
    except PaymentNotPendingError:
        # Answered already (a double click, or the webhook was faster): show how it ended.
        current = await asyncio.to_thread(
            service.sandbox_challenge, payment_intent_id=payment_intent_id, signature=sig
        )
        return _challenge_page(request, current, intent_id=payment_intent_id, sig=sig, status_code=409)
    return _challenge_page(request, result, intent_id=payment_intent_id, sig=sig)


@router.get("/payments/return")
async def payment_return(
    request: Request,
    payment_intent: Annotated[str, Query(pattern=INTENT_ID)] = "",
) -> Response:
    """Where Stripe sends the customer back after 3-D Secure: settle the payment and say so."""
    status = None
    if payment_intent:
        status = await asyncio.to_thread(
            payments_of(request).settle_payment_intent, payment_intent_id=payment_intent
        )
    return templates_of(request).TemplateResponse(
        request, "payment_return.html", {"status": status.value if status else None}
    )


@router.post("/stripe/webhook")
async def stripe_webhook(request: Request) -> Response:
    """Stripe's events: 400 when the signature does not verify, 200 when applied or a replay."""
    payload = await request.body()
    signature = request.headers.get("Stripe-Signature", "")
    try:
        applied = await asyncio.to_thread(
            payments_of(request).handle_stripe_webhook, payload=payload, signature=signature
        )
    except WebhookInvalidError:
        return JSONResponse({"detail": "invalid signature"}, status_code=400)
    except Exception:
        # Not our caller's fault and not yet applied (the event is marked processed only with its
        # settlement): 503 makes Stripe deliver it again later.
        log.exception("Stripe webhook could not be applied")
        return JSONResponse({"detail": "try again later"}, status_code=503)
    return JSONResponse({"received": True, "duplicate": not applied})
