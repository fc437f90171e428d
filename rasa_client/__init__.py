"""The one HTTP client to paychat's Rasa server, used by bot/ and console/.

It speaks to the paychat input channel (rasa_project/channels/paychat_channel.py), which checks a
shared secret and answers the bot's replies together with what Rasa understood (intent ranking,
entities, slots, events) so the console can show it.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from rasa_client.admission import Admission as Admission
from rasa_client.errors import AssistantBusyError as AssistantBusyError
from rasa_client.errors import AssistantNoAnswerError as AssistantNoAnswerError
from rasa_client.errors import AssistantUnavailableError as AssistantUnavailableError
from rasa_client.errors import ConversationUnreadableError as ConversationUnreadableError
from rasa_client.errors import MessageRefusedError as MessageRefusedError

if TYPE_CHECKING:
    from settings import Settings


def remember_sniffio_absent() -> None:
    """Make a failed `import sniffio` immediate in this process when sniffio is not installed.

    httpcore (under every httpx client: this one, python-telegram-bot's) imports sniffio inside
    each request, four times per request, to tell asyncio from trio. It is not installed here, so
    each of those imports searched sys.path again: ~0.1 ms apiece, about 1 ms of a bot's plain turn
    (issue 12, perf14: bench/results/before_after/12_sniffio_absent.md). None in sys.modules makes
    the import fail at once; it still fails (ImportError), so every library keeps its behaviour
    without sniffio (asyncio). Installed, sniffio is left alone.
    """
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


remember_sniffio_absent()


CHANNEL_PATH = "/webhooks/paychat/webhook"
HEALTH_PATH = "/webhooks/paychat/health"
SECRET_HEADER = "X-Paychat-Secret"
TIMEOUT_HEADER = "X-Paychat-Timeout"  # rasa_project/channels/paychat_channel.TIMEOUT_HEADER
# The channel's 503 code for a conversation its tracker store could not read.
UNREADABLE_CODE = "conversation_unreadable"
# The channel's 503 code for a message refused before its turn ran (the action server known down).
NOT_RUN_CODES = frozenset({"action_server_down"})
# What the paychat channel accepts (rasa_project/channels/paychat_channel.py): 1..4096 characters,
# not blank. The edges refuse anything else themselves, with words of their own.
MAX_MESSAGE_CHARS = 4096
# One pool per process (bot/ and console/ each build one client). Every connection may stay open
# between turns: with httpx's default of 20 kept-alive connections, 100 users at once would open
# and close 80 connections per round. Idle ones are dropped well before Rasa's 120 s keep-alive.
POOL_LIMITS = httpx.Limits(max_connections=256, max_keepalive_connections=256, keepalive_expiry=60.0)
# Connections beyond the admission slots, for health checks (`is_ready`) next to full slots.
POOL_HEADROOM = 8


def pool_limits(max_in_flight: int) -> httpx.Limits:
    """POOL_LIMITS, grown to `max_in_flight` + POOL_HEADROOM connections when that is more.

    A call holding an admission slot then always finds a connection: it never queues inside httpx,
    where the wait would count against the Rasa timeout (attack12b). The client's pool timeout is
    also None, so even a health check crowding the pool cannot turn into a PoolTimeout.
    """
    wanted = max(POOL_LIMITS.max_connections or 0, max_in_flight + POOL_HEADROOM)
    return httpx.Limits(
        max_connections=wanted,
        max_keepalive_connections=wanted,
        keepalive_expiry=POOL_LIMITS.keepalive_expiry,
    )


class AssistantClient(Protocol):
    """What bot/ and console/ need from an assistant: `RasaClient`, or a stand-in in tests."""

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any] | None = None) -> AssistantTurn:
        """Deliver one user message and return the assistant's turn."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def is_sendable(text: str) -> bool:
    """True when the channel accepts `text`: not blank and at most MAX_MESSAGE_CHARS characters."""
    return bool(text.strip()) and len(text) <= MAX_MESSAGE_CHARS


@dataclass(frozen=True)
class Button:
    """A quick reply: what the user sees and what is sent back when they tap it."""

    title: str
    payload: str


@dataclass(frozen=True)
class Reply:
    """One message of the assistant."""

    text: str | None
    buttons: list[Button] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AssistantTurn:
    """The assistant's answer to one user message, with what the model understood."""

    replies: list[Reply]
    parse: dict[str, Any]
    slots: dict[str, Any]
    events: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of the console API (`POST /api/chat`)."""
        return {
            "replies": [
                {"text": r.text, "buttons": [{"title": b.title, "payload": b.payload} for b in r.buttons]}
                for r in self.replies
            ],
            "parse": self.parse,
            "slots": self.slots,
            "events": self.events,
        }


def turn_from_json(body: dict[str, Any]) -> AssistantTurn:
    """An AssistantTurn from the channel's (or the console API's) JSON answer."""
    replies = [
        Reply(
            text=item.get("text"),
            buttons=[Button(title=b["title"], payload=b["payload"]) for b in item.get("buttons") or []],
            custom=item.get("custom") or {},
        )
        for item in body.get("replies", [])
    ]
    return AssistantTurn(
        replies=replies,
        parse=body.get("parse") or {},
        slots=body.get("slots") or {},
        events=body.get("events") or [],
    )


# Admission defaults (settings RASA_MAX_IN_FLIGHT, RASA_MAX_WAITING; rasa_client.admission).
DEFAULT_MAX_IN_FLIGHT = 16
DEFAULT_MAX_WAITING = 1000
# Without an explicit bound, a call waits for a slot at most this many Rasa timeouts: long enough
# for the queue to drain while Rasa answers, short of sending a message several timeouts stale.
DEFAULT_QUEUE_WAIT_TIMEOUTS = 2.5


class RasaClient:
    """Sends one user message to Rasa and returns its turn; safe to share across tasks.

    At most `max_in_flight` calls are at Rasa at once; up to `max_waiting` more wait their turn
    (first come, first served) and a call beyond that is refused with AssistantBusyError, unsent.
    `timeout_seconds` bounds Rasa's answer to a call that holds a slot, never the wait for one; that
    wait is bounded by `max_queue_wait_seconds` (default DEFAULT_QUEUE_WAIT_TIMEOUTS x
    `timeout_seconds`), after which the call is refused unsent with AssistantBusyError.
    """

    def __init__(
        self,
        base_url: str,
        secret: str,
        timeout_seconds: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        max_waiting: int = DEFAULT_MAX_WAITING,
        max_queue_wait_seconds: float | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            # pool=None: waiting for a pooled connection is never on the Rasa clock; `pool_limits`
            # sizes the pool so that a call holding a slot does not wait for one anyway.
            timeout=httpx.Timeout(timeout_seconds, connect=3.0, pool=None),
            # The channel answers before this timeout (its saves wait for the store until then).
            headers={SECRET_HEADER: secret, TIMEOUT_HEADER: str(timeout_seconds)},
            transport=transport,
            limits=pool_limits(max_in_flight),
        )
        queue_wait = max_queue_wait_seconds or DEFAULT_QUEUE_WAIT_TIMEOUTS * timeout_seconds
        self.admission = Admission(max_in_flight, max_waiting, queue_wait)

    @classmethod
    def from_settings(cls, settings: Settings) -> RasaClient:
        """The process's client for the configured Rasa server (URL, secret, timeout, admission)."""
        return cls(
            settings.rasa_url,
            settings.rasa_shared_secret,
            settings.rasa_timeout_seconds,
            max_in_flight=settings.rasa_max_in_flight,
            max_waiting=settings.rasa_max_waiting,
            max_queue_wait_seconds=settings.rasa_max_queue_wait_seconds,
        )

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any] | None = None) -> AssistantTurn:
        """Deliver `text` from `sender_id`; raises AssistantUnavailableError if Rasa can't answer,
        AssistantBusyError (a subclass) without sending when the admission queue is full or the
        wait for a slot ran out."""
        payload = {"sender": sender_id, "message": text, "metadata": metadata or {}}
        async with self.admission.slot():
            response = await self._post(payload)
        if response.status_code == 503 and _error_code(response) == UNREADABLE_CODE:
            raise ConversationUnreadableError("Rasa could not read the conversation")
        if response.status_code == 503 and _error_code(response) not in NOT_RUN_CODES:
            # The channel's answer to a turn that ran and failed (`turn_failed`: an action call failed
            # or timed out, no reply; or uncoded): the message may have been processed (charged).
            raise AssistantNoAnswerError("Rasa server answered 503 after the turn: may have run")
        if response.status_code >= 500:  # refused before the turn, or a gateway that did not reach Rasa
            raise AssistantUnavailableError(f"Rasa server answered {response.status_code}")
        if response.status_code != 200:
            # Was an httpx.HTTPStatusError no caller expected (a blank message made the console
            # answer 500 and the bot's handler fail): the message was not processed, say so.
            raise MessageRefusedError(f"Rasa server answered {response.status_code}")
        return turn_from_json(response.json())

    async def _post(self, payload: dict[str, Any]) -> httpx.Response:
        try:
            # Only a refused connection is retried: then Rasa never saw the message, so a retry
            # cannot make it handle the message twice.
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(httpx.ConnectError),
                stop=stop_after_attempt(3),
                wait=wait_exponential(multiplier=0.2, max=1.0),
                reraise=True,
            ):
                with attempt:
                    return await self._http.post(CHANNEL_PATH, json=payload)
        except (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError) as exc:
            # The request went out: Rasa may have handled it and only the answer is missing.
            raise AssistantNoAnswerError(f"no answer from Rasa: {exc!r}") from exc
        except httpx.HTTPError as exc:
            raise AssistantUnavailableError(f"Rasa server unreachable: {exc!r}") from exc
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    async def is_ready(self) -> bool:
        """True when the Rasa server answers and has a model loaded."""
        try:
            response = await self._http.get(HEALTH_PATH)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()


def _error_code(response: httpx.Response) -> str | None:
    """The `code` of the channel's JSON error answer, if it has one."""
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


MODEL_PATH = "/webhooks/paychat/model"


class ModelSwapError(Exception):
    """Rasa refused or failed to load a model (the one it served before stays)."""


def served_model(base_url: str, secret: str, timeout_seconds: float = 30.0) -> dict[str, Any]:
    """What Rasa serves: `model_file` (when swapped in by `load_model`), `model_name`, `model_id`."""
    answer = httpx.get(
        base_url.rstrip("/") + MODEL_PATH, headers={SECRET_HEADER: secret}, timeout=timeout_seconds
    )
    answer.raise_for_status()
    info: dict[str, Any] = answer.json()
    return info


def load_model(base_url: str, secret: str, model_file: str, timeout_seconds: float = 600.0) -> dict[str, Any]:
    """Make the running Rasa server serve `model_file` (an absolute path on its machine), no restart.

    Conversations carry on (the tracker store is kept); until the new model is loaded the old one
    answers. Raises ModelSwapError when Rasa refuses the file or cannot load it.
    """
    answer = httpx.put(
        base_url.rstrip("/") + MODEL_PATH,
        json={"model_file": model_file},
        headers={SECRET_HEADER: secret},
        timeout=timeout_seconds,
    )
    if answer.status_code != 200:
        raise ModelSwapError(f"Rasa did not load {model_file}: HTTP {answer.status_code} {answer.text[:300]}")
    info: dict[str, Any] = answer.json()
    return info
