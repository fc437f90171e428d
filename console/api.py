"""The console's JSON API under /api (OpenAPI document at /api/openapi.json, docs at /api/docs: docs.py).

Authentication: an API token (`Authorization: Bearer pct_…`, made with `python -m console.cli
create-token`), the session cookie (from the login page or `POST /api/login`, then unsafe requests
send the `X-CSRF-Token` header) or HTTP Basic credentials (no CSRF token needed with a token or
Basic). Failed logins are throttled: 429 with Retry-After.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

import transcripts
from console.auth import check_password, log_in, log_out, require, require_unsafe, services_of
from console.chat import CardNumberRefusedError, TestUserError, chat_turn, test_users
from console.login import LoginThrottledError
from console.roles import Role
from console.staff import StaffView
from console.views import MAX_ID, MAX_OFFSET, MAX_TELEGRAM_ID, transcript_filters
from payments.users import SESSION_KEY_PATTERN
from rasa_client import (
    AssistantBusyError,
    AssistantNoAnswerError,
    AssistantUnavailableError,
    ConversationUnreadableError,
    is_sendable,
)
from transcripts.search import search_conversations

router = APIRouter(prefix="/api")
SESSION_PATTERN = f"^{SESSION_KEY_PATTERN}$"
MAX_LIMIT = 500
# On a 503 whose message was NOT processed (busy, conversation unreadable, unreachable): the page
# may send it again, so it gives back the text and the buttons it had spent (console/static/chat.js).
# Absent when the assistant may have acted (no answer in time): repeating could act twice.
NOT_PROCESSED_HEADER = "X-Not-Processed"
NOT_PROCESSED = {NOT_PROCESSED_HEADER: "1"}
# C0 control characters other than tab, newline and carriage return: PostgreSQL refuses NUL in
# text and JSON, and none of them belongs in a chat message. Lone surrogates cannot be stored either.
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def has_control_characters(text: str) -> bool:
    """True when `text` holds a character the console refuses (see `_FORBIDDEN_CHARS`)."""
    return _FORBIDDEN_CHARS.search(text) is not None


class LoginRequest(BaseModel):
    """Staff credentials."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


class LoginResponse(BaseModel):
    """Who is logged in, and the CSRF token to send as `X-CSRF-Token` with unsafe requests."""

    username: str
    role: Role
    csrf_token: str


class ChatRequest(BaseModel):
    """One message to the assistant from a test user in a console conversation."""

    model_config = ConfigDict(extra="forbid")
    session: str = Field(pattern=SESSION_PATTERN, description="conversation key; a new key starts afresh")
    text: str = Field(min_length=1, max_length=4096, description="the message, or a button payload")
    user_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="a test user's id; default: Alex Demo"
    )
    shown_text: str | None = Field(
        default=None,
        max_length=4096,
        description="for a button tap: the text of the reply the button was under (a payment summary "
        "is confirmed only when this is the summary issued for it)",
    )

    @field_validator("text")
    @classmethod
    def _printable(cls, value: str) -> str:
        # Checked before Rasa sees the message: refusing it after the turn ran would lose the turn.
        if has_control_characters(value):
            raise ValueError("control characters (other than tab and newline) are not allowed")
        if not is_sendable(value):
            raise ValueError("the message is blank")
        return value


class ButtonOut(BaseModel):
    """A quick-reply button."""

    title: str
    payload: str


class ReplyOut(BaseModel):
    """One assistant message."""

    text: str | None
    buttons: list[ButtonOut] = []


class ParseOut(BaseModel):
    """What the NLU model understood."""

    model_config = ConfigDict(extra="allow")
    intent: dict[str, Any] | None = None
    ranking: list[dict[str, Any]] = []
    entities: list[dict[str, Any]] = []


class PaymentOut(BaseModel):
    """The payment this turn worked on and its status before and after the turn."""

    payment_id: int
    status: str
    previous_status: str | None


class ChatResponse(BaseModel):
    """The assistant's turn (contracts.md shape) with the console's annotations."""

    replies: list[ReplyOut]
    parse: ParseOut
    slots: dict[str, Any]
    events: list[dict[str, Any]]
    actions: list[str]
    payment: PaymentOut | None
    is_fallback: bool
    sender_id: str
    user_id: int
    conversation_id: int
    seq: int
    # Issue 13: messages sent apart from the turn (a one-time code), shown as their own bubbles.
    separate_messages: list[str] = []


class TestUserOut(BaseModel):
    """A user the test chat may act as."""

    id: int
    name: str
    locale: str
    currency: str


class StaffOut(BaseModel):
    """The logged-in staff member."""

    username: str
    role: Role


@router.post(
    "/login",
    response_model=LoginResponse,
    responses={
        401: {"description": "wrong credentials"},
        429: {"description": "too many failed logins for this account or address; see Retry-After"},
    },
)
async def api_login(request: Request, body: LoginRequest) -> Any:
    """Start a cookie session (scripts: prefer an API token, `Authorization: Bearer …`)."""
    try:
        staff = await asyncio.to_thread(
            check_password, request, username=body.username, password=body.password
        )
    except LoginThrottledError as exc:
        return JSONResponse(
            {"detail": str(exc)},
            status_code=429,
            headers={"Retry-After": str(exc.retry_after_seconds)},
        )
    if staff is None:
        return JSONResponse({"detail": "invalid username or password"}, status_code=401)
    token = log_in(request, staff)
    return LoginResponse(username=staff.username, role=staff.role, csrf_token=token)


@router.post("/logout", status_code=204)
def api_logout(request: Request, _staff: Annotated[StaffView, Depends(require_unsafe(Role.VIEWER))]) -> None:
    """End the cookie session."""
    log_out(request)


@router.get("/me", response_model=StaffOut)
def api_me(staff: Annotated[StaffView, Depends(require(Role.VIEWER))]) -> Any:
    """The logged-in staff member and role."""
    return StaffOut(username=staff.username, role=staff.role)


@router.get("/test-users", response_model=list[TestUserOut])
def api_test_users(request: Request, _staff: Annotated[StaffView, Depends(require(Role.TESTER))]) -> Any:
    """The users the test chat may act as."""
    return [
        TestUserOut(id=u.id, name=u.name, locale=u.locale, currency=u.currency)
        for u in test_users(services_of(request))
    ]


@router.post(
    "/chat",
    response_model=ChatResponse,
    responses={
        404: {"description": "user_id is not a test user"},
        422: {"description": "invalid request, or the text looks like a card number"},
        503: {
            "description": "the assistant is busy (not processed; Retry-After), unreachable, or got "
            "the message but did not answer in time (it may have acted: check before repeating); "
            f"{NOT_PROCESSED_HEADER}: 1 when the message was not processed and can be sent again"
        },
    },
)
async def api_chat(
    request: Request, body: ChatRequest, _staff: Annotated[StaffView, Depends(require_unsafe(Role.TESTER))]
) -> Any:
    """Send one message as a test user; the turn is recorded as a test transcript."""
    try:
        result = await chat_turn(
            services_of(request),
            user_id=body.user_id,
            session_key=body.session,
            text=body.text,
            shown_text=body.shown_text,
        )
    except TestUserError as exc:
        raise HTTPException(404, str(exc)) from None
    except CardNumberRefusedError as exc:
        raise HTTPException(422, str(exc)) from None
    except AssistantBusyError:
        raise HTTPException(
            503,
            "the assistant is busy: this message was not processed; send it again in a few seconds",
            headers={"Retry-After": "5", **NOT_PROCESSED},
        ) from None
    except AssistantNoAnswerError:
        # Rasa got the message and may have acted on it (e.g. charged a confirmed payment).
        raise HTTPException(
            503,
            "the assistant got this message but did not answer in time: it may have acted on it; "
            "check the conversation and payments before sending it (or a confirmation) again",
        ) from None
    except ConversationUnreadableError:
        raise HTTPException(
            503,
            "could not read the conversation (the assistant's conversation store failed): this message "
            "was not processed; send it again in a moment",
            headers={"Retry-After": "5", **NOT_PROCESSED},
        ) from None
    except AssistantUnavailableError:
        raise HTTPException(
            503,
            "the assistant is unreachable (Rasa or the action server is down); try again",
            headers=NOT_PROCESSED,
        ) from None
    recorded = result.recorded
    payment = (
        PaymentOut(
            payment_id=recorded.payment_id,
            status=recorded.payment_status,
            previous_status=recorded.previous_payment_status,
        )
        if recorded.payment_id is not None and recorded.payment_status is not None
        else None
    )
    return ChatResponse(
        replies=result.turn.get("replies", []),
        parse=result.turn.get("parse") or {},
        slots=result.turn.get("slots") or {},
        events=result.turn.get("events") or [],
        actions=recorded.actions,
        payment=payment,
        is_fallback=recorded.is_fallback,
        sender_id=result.sender_id,
        user_id=result.user_id,
        conversation_id=result.conversation_id,
        seq=recorded.seq,
        separate_messages=list(result.separate_messages),
    )


@router.get("/transcripts")
def api_transcripts(
    request: Request,
    _staff: Annotated[StaffView, Depends(require(Role.VIEWER))],
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    user_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    intent: Annotated[str | None, Query(max_length=100)] = None,
    low_confidence: bool = False,
    threshold: Annotated[float, Query(gt=0, le=1)] = 0.6,
    fallback: bool = False,
    payment_status: Annotated[str | None, Query(max_length=20)] = None,
    kind: Annotated[str | None, Query(pattern="^(test|live)$")] = None,
    q: Annotated[str | None, Query(max_length=200, description="text in the (redacted) messages")] = None,
    telegram_id: Annotated[
        int | None, Query(ge=1, le=MAX_TELEGRAM_ID, description="a Telegram user id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Any:
    """Conversations matching the filters, most recent first; `q` searches the redacted messages."""
    params = {
        "from": date_from.isoformat() if date_from else "",
        "to": date_to.isoformat() if date_to else "",
        "user_id": str(user_id or ""),
        "intent": intent or "",
        "low_confidence": "1" if low_confidence else "",
        "threshold": str(threshold),
        "fallback": "1" if fallback else "",
        "payment_status": payment_status or "",
        "kind": kind or "",
    }
    text = (q or "").strip() or None
    with services_of(request).session_factory() as session:
        if text or telegram_id:
            found = search_conversations(
                session,
                text=text,
                telegram_user_id=telegram_id,
                limit=limit + offset,
                **transcript_filters(params),
            )[offset:]
        else:
            found = transcripts.list_conversations(
                session, limit=limit, offset=offset, **transcript_filters(params)
            )
    return jsonable_encoder(found)


@router.get("/transcripts/{conversation_id}")
def api_transcript(
    request: Request,
    conversation_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    _staff: Annotated[StaffView, Depends(require(Role.VIEWER))],
) -> Any:
    """One conversation with every turn and its annotations."""
    with services_of(request).session_factory() as session:
        detail = transcripts.get_conversation(session, conversation_id)
    if detail is None:
        raise HTTPException(404, "no such conversation")
    return jsonable_encoder(detail)


@router.get("/openapi.json", include_in_schema=False)
def openapi_document(request: Request, _staff: Annotated[StaffView, Depends(require(Role.VIEWER))]) -> Any:
    """The OpenAPI document of this API."""
    return JSONResponse(request.app.openapi())
