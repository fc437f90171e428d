"""Test users for testers: create one with the demo bills and a sandbox card, reset one to that state
(page and JSON API).

The domain work (who counts as a test user, what a reset removes, the demo bills and the card) is
payments.testusers; here the route parses, calls it, and then restarts the user's conversations in
Rasa (`/restart`, Rasa's built-in restart intent, sent to each of their recorded sender ids) so a
scripted conversation starts from an empty tracker too. A fresh session key is handed back as well.

Creating one costs a user, demo bills and a processor customer with a card, so creations are
braked per staff member (`ActionBrake`, the login brake's counters): a burst beyond
CONSOLE_TEST_USERS_BURST waits (HTTP 429 with Retry-After, a message on the page). Resets are not
braked: they create nothing.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.orm import Session, sessionmaker

import transcripts
from console.api import has_control_characters
from console.auth import require, require_unsafe, services_of
from console.chat import CHANNEL, test_users
from console.roles import Role
from console.services import ConsoleServices, payments_of, templates_of
from console.staff import StaffView
from console.throttle import ActionBrake, ThrottlePolicy, action_key, build_store
from console.views import MAX_ID
from db.models import utcnow
from payments.errors import PaymentsError, TestUserBusyError, TestUserRequiredError
from payments.testusers import TestCard
from payments.views import UserView
from rasa_client import AssistantUnavailableError
from settings import Settings

router = APIRouter()
UserId = Annotated[int, Path(ge=1, le=MAX_ID)]
NOTICE = "test_users_notice"
NAME_MAX = 100
RESTART = "/restart"  # Rasa's default restart intent: action_restart empties the tracker
CREATE = "test-users"  # the brake's key prefix and Redis namespace
_brake_lock = threading.Lock()


class CreationThrottledError(Exception):
    """This staff member created too many test users in a row: wait `retry_after_seconds`."""

    def __init__(self, retry_after_seconds: int) -> None:
        self.retry_after_seconds = retry_after_seconds
        super().__init__(f"too many test users created in a row; try again in {retry_after_seconds} seconds")


def build_creation_brake(
    settings: Settings, session_factory: sessionmaker[Session], *, clock: Callable[[], datetime] = utcnow
) -> ActionBrake:
    """The test-user brake the settings describe, on the login brake's store (Redis or database)."""
    policy = ThrottlePolicy(
        settings.console_test_users_burst,  # the burst-th creation in a row locks the next one
        timedelta(seconds=settings.console_test_users_window_seconds),
        timedelta(seconds=settings.console_test_users_lockout_seconds),
        timedelta(seconds=settings.console_test_users_max_lockout_seconds),
    )
    return ActionBrake(build_store(settings, session_factory, CREATE), policy, clock)


def creation_brake(request: Request) -> ActionBrake:
    """The app's test-user brake (built on first use from the settings; a test may install its own)."""
    brake: ActionBrake | None = getattr(request.app.state, "test_user_brake", None)
    if brake is None:
        with _brake_lock:
            brake = getattr(request.app.state, "test_user_brake", None)
            if brake is None:
                settings = request.app.state.settings
                brake = build_creation_brake(settings, services_of(request).session_factory)
                request.app.state.test_user_brake = brake
    return brake


def create_braked(request: Request, staff: StaffView, body: TestUserRequest) -> UserView:
    """Create a test user unless this staff member is braked (CreationThrottledError).

    A creation that reached the processor keeps its slot even when it failed there (a refusal under
    a burst, the processor down): it cost a call and left rows to clean, and a loop must not keep
    trying past the brake. Only a refusal before anything was made (PaymentsError) gives it back."""
    brake, key = creation_brake(request), action_key(CREATE, f"staff:{staff.id}")
    wait = brake.take(key)
    if wait is not None:
        raise CreationThrottledError(wait)
    try:
        return payments_of(request).create_test_user(name=body.name, card=body.card, created_by=_actor(staff))
    except PaymentsError:
        brake.give_back(key)
        raise


class TestUserRequest(BaseModel):
    """A new test user: a display name and which sandbox card they pay with."""

    __test__ = False  # not a pytest test class
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=NAME_MAX)
    card: TestCard = Field(
        default=TestCard.SUCCEEDS, description="succeeds, declines (at charge time) or 3ds"
    )

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.strip() or has_control_characters(value):
            raise ValueError("a name in plain text is required")
        return value.strip()


@dataclass(frozen=True)
class RestartReport:
    """How many of the user's conversations Rasa restarted, and how many it could not reach."""

    restarted: int
    unreachable: int


def _actor(staff: StaffView) -> str:
    return f"staff:{staff.username}"


def _http_error(error: PaymentsError) -> HTTPException:
    if isinstance(error, TestUserRequiredError):
        return HTTPException(404, "no such test user (only test users can be reset)")
    if isinstance(error, TestUserBusyError):
        return HTTPException(409, "a charge of this user is in flight; try again in a few seconds")
    return HTTPException(422, f"refused ({error.code})")


async def restart_conversations(services: ConsoleServices, user_id: int) -> RestartReport:
    """Send Rasa's restart to every recorded conversation of the user (not recorded as a turn)."""

    def senders() -> list[str]:
        with services.session_factory() as session:
            return transcripts.sender_ids_of_user(session, user_id)

    restarted = unreachable = 0
    for sender_id in await asyncio.to_thread(senders):
        try:
            await services.assistant.send(sender_id, RESTART, metadata={"channel": CHANNEL})
        except AssistantUnavailableError:
            unreachable += 1
        else:
            restarted += 1
    return RestartReport(restarted=restarted, unreachable=unreachable)


async def _reset(request: Request, user_id: int, staff: StaffView) -> dict[str, Any]:
    try:
        report = await asyncio.to_thread(
            payments_of(request).reset_test_user, user_id=user_id, reset_by=_actor(staff)
        )
    except PaymentsError as error:
        raise _http_error(error) from None
    restart = await restart_conversations(services_of(request), user_id)
    return {
        "user": report.user,
        "removed": report.removed,
        "card": report.card,
        "conversations_restarted": restart.restarted,
        "conversations_unreachable": restart.unreachable,
        "session": str(uuid.uuid4()),
    }


@router.get("/test-users", include_in_schema=False)
def test_users_page(
    request: Request, _staff: Annotated[StaffView, Depends(require(Role.TESTER))]
) -> Response:
    """Test users with a Reset button each, and a form to create one."""
    return _page(request)


def _page(request: Request, wait_seconds: int | None = None) -> Response:
    """The test users page; with `wait_seconds`, after a refused creation (429 with Retry-After)."""
    response = templates_of(request).TemplateResponse(
        request,
        "test_users.html",
        {
            "users": test_users(services_of(request)),
            "cards": list(TestCard),
            "notice": request.session.pop(NOTICE, None),
            "name_max": NAME_MAX,
            "wait_seconds": wait_seconds,
        },
        status_code=429 if wait_seconds else 200,
    )
    if wait_seconds:
        response.headers["Retry-After"] = str(wait_seconds)
    return response


@router.post("/test-users", include_in_schema=False)
def create_form(
    request: Request,
    staff: Annotated[StaffView, Depends(require_unsafe(Role.TESTER))],
    name: Annotated[str, Form(max_length=NAME_MAX)],
    card: Annotated[TestCard, Form()] = TestCard.SUCCEEDS,
) -> Response:
    """Create from the page, then back to the list."""
    try:
        body = TestUserRequest(name=name, card=card)
    except ValueError:
        raise HTTPException(422, "name: a name in plain text is required") from None
    try:
        user = create_braked(request, staff, body)
    except CreationThrottledError as error:
        return _page(request, wait_seconds=error.retry_after_seconds)
    request.session[NOTICE] = f"Created test user {user.name} (#{user.id}) with the demo bills."
    return RedirectResponse("/test-users", status_code=303)


@router.post("/test-users/{user_id}/reset", include_in_schema=False)
async def reset_form(
    request: Request, user_id: UserId, staff: Annotated[StaffView, Depends(require_unsafe(Role.TESTER))]
) -> Response:
    """Reset from the page, then back to the list."""
    result = await _reset(request, user_id, staff)
    removed = sum(result["removed"].values())
    request.session[NOTICE] = (
        f"Reset {result['user'].name} (#{user_id}): {removed} rows removed, fresh demo bills, "
        f"{result['conversations_restarted']} conversation(s) restarted."
    )
    return RedirectResponse("/test-users", status_code=303)


@router.post(
    "/api/test-users",
    status_code=201,
    responses={429: {"description": "too many test users created in a row; see Retry-After"}},
)
def api_create_test_user(
    request: Request, body: TestUserRequest, staff: Annotated[StaffView, Depends(require_unsafe(Role.TESTER))]
) -> Any:
    """Create a console-only test user with the demo bills and the chosen sandbox card (braked per
    staff member: 429 with Retry-After after a burst)."""
    try:
        user = create_braked(request, staff, body)
    except CreationThrottledError as error:
        raise HTTPException(
            429, str(error), headers={"Retry-After": str(error.retry_after_seconds)}
        ) from None
    return jsonable_encoder(user)


@router.post(
    "/api/test-users/{user_id}/reset",
    responses={404: {"description": "not a test user"}, 409: {"description": "a charge is in flight"}},
)
async def api_reset_test_user(
    request: Request, user_id: UserId, staff: Annotated[StaffView, Depends(require_unsafe(Role.TESTER))]
) -> Any:
    """Reset a test user: payments gone, fresh demo bills, card kept, Rasa conversations restarted.

    The answer has a fresh `session` key to chat with from a clean state.
    """
    return jsonable_encoder(await _reset(request, user_id, staff))
