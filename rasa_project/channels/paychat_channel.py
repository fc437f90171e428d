"""paychat's Rasa input channel: the only door into the Rasa server.

Runs inside the Rasa environment (Python 3.10) and imports nothing of paychat but `privacy.cards`
(standard library only; the repository root is on the Rasa process's PYTHONPATH). It refuses any
request without the shared secret (the action server trusts the sender id to decide whose bills it
may touch, so nobody but bot/ and console/ may choose one), answers a message that holds a card
number with a fixed refusal before anything reaches the processor or the tracker store, and
otherwise answers the bot's replies together with what the model understood this turn, for the
staff console and the transcripts.

Staff tooling (`paychat-tune promote` / `rollback`) swaps the served model through the same door:
`PUT /webhooks/paychat/model` with `{"model_file": "<path of a .tar.gz on this machine>"}` loads it
into the running agent (what Rasa's own `PUT /model` does, whose HTTP API stays off here), keeping
the tracker and lock stores; `GET /webhooks/paychat/model` names the model being served. Both need
the shared secret.

The action server's state is learnt from the action calls themselves (`ActionServerWatch`), not
probed before every message: Rasa carries on when an action call fails, so the channel notes the
failure and answers 503 `{"code": "turn_failed"}` for that turn (it ran and may have acted, so
rasa_client raises AssistantNoAnswerError, not "not processed"); `action_server_down` only when every
action call of the turn was refused, so no action ran (not when one answered before the refusal: a
charge, then the action server gone). While the last call failed, new messages are refused up front
until a health check (at most one a second) sees the server back. Rasa's calls to the action server
share one pooled connection session instead of opening one per call, and give up after 25 s. The
turn's details come from the tracker the turn saved, not read back from the store.

A conversation the tracker store cannot read (the database failing past the store's retries) is
refused with 503 `{"code": "conversation_unreadable"}`: Rasa's FailSafeTrackerStore would answer
"no tracker" and the turn would go on from an empty conversation (a confirmation waiting, slots,
all gone), or the turn's details would come back empty.

The channel's own log lines are paychat's JSON lines (observability.logs, standard library only),
one per turn with its conversation id (a hash of the sender id), outcome and duration; Rasa's own
lines keep Rasa's format.
"""

import asyncio
import contextvars
import hmac
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, Optional

import aiohttp
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.tracker_store import ANSWER_BY
from observability.context import conversation
from observability.logs import JsonFormatter
from privacy.cards import message_holds_card_number

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Paychat-Secret"
MAX_MESSAGE_CHARS = 4096
MAX_SENDER_CHARS = 128
HEALTH_CHECK_TIMEOUT_SECONDS = 1.0
HEALTH_CHECK_INTERVAL_SECONDS = 1.0
# Rasa waits up to 5 minutes for an action while holding the conversation's lock; the bot and the
# console give up after RASA_TIMEOUT_SECONDS (30 s by default). Give up first, and say so.
ACTION_CALL_TIMEOUT_SECONDS = 25.0
# Action calls made while handling the current message, and whether each reached the server.
_ACTION_CALLS: contextvars.ContextVar[Optional[list]] = contextvars.ContextVar(
    "paychat_action_calls", default=None
)
# The tracker Rasa saved at the end of the current message's turn (what the turn produced).
_SAVED: contextvars.ContextVar[Optional[dict]] = contextvars.ContextVar("paychat_saved", default=None)
# The domain response that refuses a card number; the constant is used only if the domain lacks it.
CARD_REFUSAL_RESPONSE = "utter_card_number_refused"
CARD_REFUSAL_FALLBACK = "Please never send a card number in chat. I did not keep it."
# The 503 of a turn whose conversation could not be read (rasa_client.ConversationUnreadableError).
UNREADABLE = {"error": "could not read the conversation", "code": "conversation_unreadable"}
# The 503 of a turn that RAN but failed (an action call failed, no reply): it may have acted (charged),
# unlike the "action server unavailable" refused before the turn (rasa_client.AssistantNoAnswerError).
TURN_FAILED_CODE = "turn_failed"
# The caller's own timeout (rasa_client sends it): the turn answers this much before it, and never
# later than TURN_ANSWER_MAX_SECONDS after arriving (Rasa's ticket lock lives 60 s from arrival).
TIMEOUT_HEADER = "X-Paychat-Timeout"
ANSWER_MARGIN_SECONDS = 4.0
TURN_ANSWER_MAX_SECONDS = 45.0
# The 503 of a message refused BEFORE its turn (the action server known down): not processed.
REFUSED = "refused"  # an action call whose connection was refused (in _ACTION_CALLS): it did not run
ACTION_SERVER_DOWN = {"error": "action server unavailable", "code": "action_server_down"}


class ConversationUnreadableError(Exception):
    """The tracker store failed to read a conversation: the turn must not start it afresh."""


class PaychatInput(InputChannel):
    """REST-like channel guarded by a shared secret, returning replies plus parse data."""

    @classmethod
    def name(cls) -> str:
        return "paychat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        secret = (credentials or {}).get("secret") or os.environ.get("RASA_SHARED_SECRET", "")
        if not secret or secret.startswith("${"):
            raise ValueError("RASA_SHARED_SECRET is not set: the paychat channel refuses to start open")
        _log_as_json()
        return cls(secret)

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def _authorized(self, request: Request) -> bool:
        given = (request.headers.get(SECRET_HEADER) or "").encode()
        return hmac.compare_digest(given, self._secret)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("paychat_webhook", __name__)

        @webhook.route("/health", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            agent = request.app.ctx.agent
            ready = agent is not None and agent.is_ready()
            return response.json({"status": "ok" if ready else "loading"}, status=200 if ready else 503)

        @webhook.route("/model", methods=["GET"])
        async def served_model(request: Request) -> HTTPResponse:
            if not self._authorized(request):
                return response.json({"error": "forbidden"}, status=403)
            return response.json(_model_info(request.app.ctx.agent))

        @webhook.route("/model", methods=["PUT"])
        async def replace_model(request: Request) -> HTTPResponse:
            if not self._authorized(request):
                return response.json({"error": "forbidden"}, status=403)
            body = request.json if isinstance(request.json, dict) else {}
            path = body.get("model_file")
            if not isinstance(path, str) or not path.startswith("/") or not path.endswith(".tar.gz"):
                return response.json({"error": "model_file must be an absolute .tar.gz path"}, status=400)
            agent = request.app.ctx.agent
            async with _MODEL_SWAP:
                try:
                    # Loading takes seconds (TensorFlow, the graph): off the event loop, so conversations
                    # keep being answered by the old model until the new one replaces it in one step.
                    await asyncio.get_running_loop().run_in_executor(None, agent.load_model, path)
                except Exception as error:  # a broken or incompatible model: the old one stays
                    logger.exception("paychat channel: loading model %s failed", path)
                    return response.json({"error": f"model not loaded: {error}"}, status=422)
                agent._paychat_model_file = path
            logger.info("paychat channel: now serving %s", path)
            return response.json(_model_info(agent))

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self._authorized(request):
                return response.json({"error": "forbidden"}, status=403)
            body = request.json if isinstance(request.json, dict) else {}
            sender = body.get("sender")
            text = body.get("message")
            metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
            if not isinstance(sender, str) or not sender or len(sender) > MAX_SENDER_CHARS:
                return response.json({"error": "sender must be a non-empty string"}, status=400)
            if not isinstance(text, str) or not text.strip() or len(text) > MAX_MESSAGE_CHARS:
                error = f"message must be 1..{MAX_MESSAGE_CHARS} characters"
                return response.json({"error": error}, status=400)

            with conversation(sender):
                started = time.perf_counter()
                answer = await self._turn(request, on_new_message, sender, text, metadata)
                logger.info(
                    "paychat channel: turn %s",
                    answer.status,
                    extra={"status": answer.status, "seconds": round(time.perf_counter() - started, 4)},
                )
                return answer

        return webhook

    async def _turn(
        self,
        request: Request,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        sender: str,
        text: str,
        metadata: dict,
    ) -> HTTPResponse:
        """Hand one checked message to Rasa and answer its replies with the turn's details."""
        agent = request.app.ctx.agent
        if message_holds_card_number(text, metadata):
            # Never handed to Rasa: the text would land in the tracker store and the NLU logs.
            # Checked as Rasa will see it (intent payload JSON decoded) and in every metadata
            # string (the console's `shown_text` comes from its caller).
            return response.json(_card_refusal(agent))
        watch = ActionServerWatch.of(agent)
        if watch is not None and not await watch.usable():
            # Rasa would carry on without the actions and answer nothing useful; say so instead.
            return response.json(ACTION_SERVER_DOWN, status=503)
        ANSWER_BY.set(time.monotonic() + _answer_within(request))
        collector = CollectingOutputChannel()
        calls: list = []
        _ACTION_CALLS.set(calls)
        saved: dict = {}
        _SAVED.set(saved)
        _watch_tracker_store(agent)
        try:
            await on_new_message(
                UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata)
            )
        except ConversationUnreadableError:
            logger.exception("paychat channel: the conversation could not be read")
            return response.json(UNREADABLE, status=503)
        except Exception:  # a model error, a tracker store failure: the caller must know
            logger.exception("paychat channel: handling a message failed")
            return response.json({"error": "assistant unavailable"}, status=503)
        failed = _failed_calls_answer(calls)
        if failed is not None:
            # Rasa logged the failed action call and carried on without its events.
            logger.error("paychat channel: an action call failed")
            return response.json(failed, status=503)
        if not collector.messages:
            # Every paychat turn answers something; silence means an action failed inside Rasa.
            logger.error("paychat channel: no reply")
            silent = {"error": "assistant produced no reply", "code": TURN_FAILED_CODE}
            return response.json(silent, status=503)
        try:
            turn = await _turn_details(agent, sender, saved.get(sender))
        except ConversationUnreadableError:
            logger.exception("paychat channel: the turn's conversation could not be read back")
            return response.json(UNREADABLE, status=503)
        turn["replies"] = [_reply(m) for m in collector.messages]
        return response.json(turn)


def _failed_calls_answer(calls: list) -> Optional[dict[str, str]]:
    """The 503 body of a turn whose action calls (`_ACTION_CALLS`: True answered, REFUSED never
    reached the server, False failed after reaching it or timing out) did not all succeed, else None.

    "Not processed" (`action_server_down`) only when EVERY call of the turn was refused: no action
    ran, none of its events were applied. A refusal after a call that got an answer (a charge, then
    the action server gone before the next action of the round) is a turn that ran and failed.
    """
    if all(call is True for call in calls):
        return None
    if all(call == REFUSED for call in calls):
        return ACTION_SERVER_DOWN
    return {"error": "action server unavailable", "code": TURN_FAILED_CODE}


class ActionServerWatch:
    """The action server as the channel sees it: one pooled session, its state from the calls."""

    def __init__(self, endpoint: Any) -> None:
        self._endpoint = endpoint
        self._health_url = endpoint.url.rsplit("/webhook", 1)[0] + "/health"
        self._session: Optional[aiohttp.ClientSession] = None
        self._down = False
        self._checked_at = 0.0
        self._check: Optional[asyncio.Task] = None
        self._request = endpoint.request
        # Rasa opens a new ClientSession (a new connection) for every action call; lend it ours.
        endpoint.session = self._borrow
        endpoint.request = self._observed_request

    @classmethod
    def of(cls, agent: Any) -> "Optional[ActionServerWatch]":
        """The watch on the agent's action endpoint (installed once), or None without one."""
        endpoint = getattr(agent, "action_endpoint", None)
        if endpoint is None or not getattr(endpoint, "url", None):
            return None
        watch = getattr(endpoint, "_paychat_watch", None)
        if watch is None:
            watch = endpoint._paychat_watch = cls(endpoint)
        return watch

    def _pool(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = self._endpoint.__class__.session(self._endpoint)
        return self._session

    def _borrow(self) -> "_Borrowed":
        return _Borrowed(self._pool())

    async def _observed_request(self, *args: Any, **kwargs: Any) -> Any:
        calls = _ACTION_CALLS.get()
        kwargs["timeout"] = aiohttp.ClientTimeout(total=ACTION_CALL_TIMEOUT_SECONDS)
        try:
            result = await self._request(*args, **kwargs)
        except (asyncio.TimeoutError, aiohttp.ClientError) as error:
            status = getattr(error, "status", None)  # an HTTP answer: the server is reachable
            if isinstance(error, aiohttp.ClientConnectionError) and status is None:
                # Refused or cut off: down (a slow answer, a timeout, is not). Fresh connections
                # next time: these may lead to a server process that is gone.
                self._down = True
                self._drop_pool()
            if calls is not None:
                # A 4xx answer is a form validation rejecting a slot: a normal turn. A 5xx is not.
                # A refused connection never reached the server: that action did not run.
                refused = isinstance(error, aiohttp.ClientConnectorError)
                calls.append(REFUSED if refused else status is not None and 400 <= status < 500)
            raise
        self._down = False
        if calls is not None:
            calls.append(True)
        return result

    async def usable(self) -> bool:
        """True unless the last call failed and a fresh health check (≤ 1/s) does not see it back."""
        if not self._down:
            return True
        if self._check is None or (
            self._check.done() and time.monotonic() - self._checked_at >= HEALTH_CHECK_INTERVAL_SECONDS
        ):
            self._checked_at = time.monotonic()
            self._check = asyncio.ensure_future(self._healthy())
        up = await asyncio.shield(self._check)
        if up:
            self._down = False
        return up

    async def _healthy(self) -> bool:
        try:
            timeout = aiohttp.ClientTimeout(total=HEALTH_CHECK_TIMEOUT_SECONDS)
            async with self._pool().get(self._health_url, timeout=timeout) as answer:
                return answer.status == 200
        except (asyncio.TimeoutError, aiohttp.ClientError):  # not the builtin on Python 3.10
            self._drop_pool()
            return False

    def _drop_pool(self) -> None:
        """Use a new session from now on; close the old one once calls still on it are over."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            asyncio.get_event_loop().call_later(
                ACTION_CALL_TIMEOUT_SECONDS + 5, lambda: asyncio.ensure_future(session.close())
            )


class _Borrowed:
    """`async with` on the shared session without closing it afterwards."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(self, *exc: Any) -> None:
        return None


def _card_refusal(agent: Any) -> dict[str, Any]:
    """The turn answering a card number: the domain's refusal, nothing parsed, no tracker events."""
    domain = getattr(agent, "domain", None)
    variants = (getattr(domain, "responses", None) or {}).get(CARD_REFUSAL_RESPONSE) or []
    text = variants[0].get("text") if variants else None
    reply = {"text": text or CARD_REFUSAL_FALLBACK, "buttons": [], "custom": {"card_number_refused": True}}
    return {"replies": [reply], "parse": {}, "slots": {}, "events": []}


_MODEL_SWAP = asyncio.Lock()


def _model_info(agent: Any) -> dict[str, Any]:
    """The served model: its file (when the channel loaded it, else the name Rasa knows) and id."""
    processor = getattr(agent, "processor", None)
    return {
        "model_file": getattr(agent, "_paychat_model_file", None),
        "model_name": getattr(processor, "model_filename", None),
        "model_id": getattr(agent, "model_id", None),
    }


def _reply(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "text": message.get("text"),
        "buttons": [
            {"title": b.get("title", ""), "payload": b.get("payload", "")}
            for b in message.get("buttons") or []
        ],
        "custom": message.get("custom") or {},
    }


def _log_as_json() -> None:
    """The channel's lines as paychat's JSON lines (once; Rasa configures its own loggers)."""
    if any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter("rasa"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _watch_tracker_store(agent: Any) -> None:
    """Let the channel see the tracker each turn saves, instead of reading it back from the store,
    and make a failed read raise ConversationUnreadableError instead of FailSafeTrackerStore's None."""
    store = agent.tracker_store
    if store is None or getattr(store, "_paychat_keeps_saved", False):
        return
    save = store.save

    async def save_and_keep(tracker: Any) -> None:
        await save(tracker)
        kept = _SAVED.get()
        if kept is not None:
            kept[tracker.sender_id] = tracker

    primary = getattr(store, "_tracker_store", None)  # FailSafeTrackerStore wraps the configured one

    async def retrieve_or_raise(sender_id: str) -> Any:
        try:
            return await primary.retrieve(sender_id)
        except Exception as error:
            raise ConversationUnreadableError(sender_id) from error

    store.save = save_and_keep
    if primary is not None:
        store.retrieve = retrieve_or_raise
    store._paychat_keeps_saved = True


async def _turn_details(agent: Any, sender: str, tracker: Any = None) -> dict[str, Any]:
    """What the model understood in the latest turn, the slots after it and its events.

    `tracker` is the one the turn saved; without it (none was saved) it is read from the store.
    Raises ConversationUnreadableError when there is none to read: empty details are no answer.
    """
    if tracker is None:
        tracker = await agent.tracker_store.retrieve(sender)
    if tracker is None:
        raise ConversationUnreadableError(sender)
    # This turn's events only, found from the end: the conversation's earlier events are neither
    # copied nor serialised (the whole tracker when it has no user message yet).
    events: list = []
    for event in reversed(tracker.events):
        events.append(event)
        if event.type_name == "user":
            break
    events.reverse()
    parse = tracker.latest_message.parse_data if tracker.latest_message else {}
    return {
        "parse": {
            "text": parse.get("text"),
            "intent": parse.get("intent"),
            "ranking": parse.get("intent_ranking", []),
            "entities": parse.get("entities", []),
        },
        "slots": tracker.current_slot_values(),
        "events": [e.as_dict() for e in events],
    }


def _answer_within(request: Request) -> float:
    """Seconds from now by which the turn answers: the caller's timeout less a margin, capped."""
    try:
        timeout = float(request.headers.get(TIMEOUT_HEADER, ""))
    except ValueError:
        return TURN_ANSWER_MAX_SECONDS
    if not math.isfinite(timeout):  # "nan" would make every comparison false, "inf" no deadline
        return TURN_ANSWER_MAX_SECONDS
    return max(min(timeout - ANSWER_MARGIN_SECONDS, TURN_ANSWER_MAX_SECONDS), 0.0)
