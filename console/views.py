"""The console's HTML pages: login, test chat, transcripts, staff accounts.

Each view checks its role through a dependency, makes one call into payments/ or console.staff,
and renders a template.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import IntegrityError

import transcripts
from console.auth import check_password, log_in, log_out, require, require_unsafe, services_of, verify_csrf
from console.chat import default_test_user_id, test_users
from console.login import LoginThrottledError
from console.roles import Role
from console.services import templates_of
from console.staff import StaffError, StaffView, create_staff_user, list_staff, set_active
from db.models import PAYMENT_STATUSES
from transcripts.search import search_conversations

router = APIRouter(include_in_schema=False)
DEFAULT_LOW_CONFIDENCE = 0.6
MAX_ID = 2**31 - 1  # ids are INTEGER columns (db/models.py): PostgreSQL refuses anything larger
MAX_OFFSET = 10**6
MAX_TELEGRAM_ID = 2**63 - 1  # users.telegram_user_id is a BIGINT


def _safe_next(target: str | None) -> str:
    # Only local paths: an absolute or scheme-relative URL here would be an open redirect.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/")
def home(staff: Annotated[StaffView, Depends(require(Role.VIEWER))]) -> RedirectResponse:
    """Testers start in the test chat, viewers in the transcripts."""
    return RedirectResponse("/chat" if staff.role.allows(Role.TESTER) else "/transcripts", status_code=303)


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    """The login form."""
    return templates_of(request).TemplateResponse(
        request, "login.html", {"next": _safe_next(next), "error": None}
    )


@router.post("/login")
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the password and start a session, or show the form again."""
    await verify_csrf(request)
    try:
        staff = await asyncio.to_thread(check_password, request, username=username, password=password)
    except LoginThrottledError as exc:
        return templates_of(request).TemplateResponse(
            request,
            "login.html",
            {"next": _safe_next(next), "error": str(exc), "username": username},
            status_code=429,
            headers={"Retry-After": str(exc.retry_after_seconds)},
        )
    if staff is None:
        return templates_of(request).TemplateResponse(
            request,
            "login.html",
            {"next": _safe_next(next), "error": "Invalid username or password.", "username": username},
            status_code=401,
        )
    log_in(request, staff)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, _staff: Annotated[StaffView, Depends(require_unsafe(Role.VIEWER))]) -> Response:
    """End the session."""
    log_out(request)
    return RedirectResponse("/login", status_code=303)


@router.get("/chat")
def chat_page(request: Request, _staff: Annotated[StaffView, Depends(require(Role.TESTER))]) -> Response:
    """The test chat: pick a test user and talk to the assistant."""
    users = test_users(services_of(request))
    alex = default_test_user_id(services_of(request))
    default = next((u.id for u in users if u.id == alex), users[0].id if users else None)
    return templates_of(request).TemplateResponse(
        request, "chat.html", {"users": users, "default_user_id": default}
    )


def _parse_day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _parse_threshold(value: str | None) -> float:
    try:
        number = float(value) if value else DEFAULT_LOW_CONFIDENCE
    except ValueError:
        return DEFAULT_LOW_CONFIDENCE
    # Also refuses nan and inf, which float() accepts.
    return number if 0 < number <= 1 else DEFAULT_LOW_CONFIDENCE


def _parse_id(value: str | None) -> int | None:
    # isdigit() alone admits digits int() refuses ("²"); an id beyond BIGINT matches nothing anyway.
    if not value or len(value) > 30 or not (value.isascii() and value.isdigit()):
        return None
    return min(int(value), MAX_ID)


def parse_telegram_id(value: str | None) -> int | None:
    """A Telegram user id from a query parameter, or None when absent or not an id."""
    if not value or len(value) > 20 or not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if 0 < number <= MAX_TELEGRAM_ID else None


class UnreadableIdError(ValueError):
    """A `user_id`/`telegram_id` filter that was given but is not an id: refuse, never widen to all."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} must be a positive whole number")
        self.name = name


def telegram_id_filter(params: dict[str, str]) -> int | None:
    """The `telegram_id` filter (None when absent); UnreadableIdError when given but not an id."""
    value = params.get("telegram_id")
    if not value:
        return None
    telegram_id = parse_telegram_id(value)
    if telegram_id is None:
        raise UnreadableIdError("telegram_id")
    return telegram_id


def transcript_filters(params: dict[str, str]) -> dict[str, Any]:
    """Keyword arguments for `transcripts.list_conversations` from query parameters.

    Unreadable dates and the like are ignored, but a given `user_id` that is not an id raises
    UnreadableIdError: dropping it would show (or export) every customer's conversations.
    """
    user_id = _parse_id(params.get("user_id"))
    if params.get("user_id") and user_id is None:
        raise UnreadableIdError("user_id")
    since_day, until_day = _parse_day(params.get("from")), _parse_day(params.get("to"))
    if until_day == date.max:
        until_day = None  # "up to the last day there is": the day after would overflow
    threshold = _parse_threshold(params.get("threshold"))
    kind = params.get("kind", "")
    status = params.get("payment_status") or None
    return {
        "since": datetime.combine(since_day, datetime.min.time(), UTC) if since_day else None,
        "until": datetime.combine(until_day + timedelta(days=1), datetime.min.time(), UTC)
        if until_day
        else None,
        "user_id": user_id,
        "intent": params.get("intent") or None,
        "below_confidence": threshold if params.get("low_confidence") else None,
        "fallback_only": bool(params.get("fallback")),
        "payment_status": status if status in PAYMENT_STATUSES else None,
        "is_test": {"test": True, "live": False}.get(kind),
    }


@router.get("/transcripts")
def transcripts_page(
    request: Request, _staff: Annotated[StaffView, Depends(require(Role.VIEWER))]
) -> Response:
    """Conversations, filtered by date, user, intent, low confidence, fallback and payment outcome."""
    params = dict(request.query_params)
    text = (params.get("q") or "").strip() or None
    error: str | None = None
    with services_of(request).session_factory() as session:
        try:
            telegram_id = telegram_id_filter(params)
            filters = transcript_filters(params)
        except UnreadableIdError as unreadable:
            error, conversations = f"Nothing shown: {unreadable}.", []
        else:
            if text or telegram_id:  # free text runs over the redacted messages (transcripts.search)
                conversations = search_conversations(
                    session, text=text, telegram_user_id=telegram_id, limit=200, **filters
                )
            else:
                conversations = transcripts.list_conversations(session, limit=200, **filters)
        intents = transcripts.list_intents(session)
        users = transcripts.list_conversation_users(session)
    return templates_of(request).TemplateResponse(
        request,
        "transcripts.html",
        {
            "conversations": conversations,
            "intents": intents,
            "users": users,
            "statuses": PAYMENT_STATUSES,
            "params": params,
            "threshold": _parse_threshold(params.get("threshold")),
            "export_query": urlencode({k: v for k, v in params.items() if v}),
            "error": error,  # an unreadable id: a message and no conversations, never everyone's
        },
    )


@router.get("/transcripts/{conversation_id}")
def transcript_page(
    request: Request,
    conversation_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    _staff: Annotated[StaffView, Depends(require(Role.VIEWER))],
) -> Response:
    """One conversation as a chat, each assistant turn annotated."""
    with services_of(request).session_factory() as session:
        detail = transcripts.get_conversation(session, conversation_id)
    if detail is None:
        return templates_of(request).TemplateResponse(
            request, "error.html", {"status": 404, "message": "no such conversation"}, status_code=404
        )
    return templates_of(request).TemplateResponse(
        request, "transcript.html", {"detail": detail, "threshold": DEFAULT_LOW_CONFIDENCE}
    )


def _staff_page(
    request: Request, *, error: str | None = None, notice: str | None = None, status: int = 200
) -> Response:
    with services_of(request).session_factory() as session:
        accounts = list_staff(session)
    return templates_of(request).TemplateResponse(
        request,
        "staff.html",
        {"accounts": accounts, "roles": list(Role), "error": error, "notice": notice},
        status_code=status,
    )


@router.get("/staff")
def staff_page(request: Request, _staff: Annotated[StaffView, Depends(require(Role.ADMIN))]) -> Response:
    """Staff accounts and a form to add one."""
    return _staff_page(request)


@router.post("/staff")
def staff_create(
    request: Request,
    _staff: Annotated[StaffView, Depends(require_unsafe(Role.ADMIN))],
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    role: Annotated[str, Form(max_length=20)],
) -> Response:
    """Create a staff account."""
    try:
        with services_of(request).session_factory.begin() as session:
            created = create_staff_user(
                session, username=username, password=password, role=role, actor=f"staff:{_staff.username}"
            )
    except (StaffError, IntegrityError) as exc:
        message = str(exc) if isinstance(exc, StaffError) else "username is taken"
        return _staff_page(request, error=message, status=400)
    return _staff_page(request, notice=f"Created {created.username} ({created.role.value}).")


@router.post("/staff/{staff_id}/active")
def staff_set_active(
    request: Request,
    staff_id: int,
    staff: Annotated[StaffView, Depends(require_unsafe(Role.ADMIN))],
    active: Annotated[str, Form(max_length=5)],
) -> Response:
    """Activate or deactivate a staff account (not your own)."""
    if staff_id == staff.id:
        return _staff_page(request, error="you cannot deactivate yourself", status=400)
    try:
        with services_of(request).session_factory.begin() as session:
            changed = set_active(
                session, staff_id=staff_id, is_active=active == "1", actor=f"staff:{staff.username}"
            )
    except StaffError as exc:
        return _staff_page(request, error=str(exc), status=400)
    state = "active" if changed.is_active else "deactivated"
    return _staff_page(request, notice=f"{changed.username} is now {state}.")
