"""paychat's Rasa input channel: the only door into the Rasa server.

Runs inside the Rasa environment (Python 3.10) and imports nothing of paychat but `privacy.cards`
(standard library only; the repository root is on the Rasa process's PYTHONPATH). It refuses any
request without the shared secret (the action server trusts the sender id to decide whose bills it
may touch, so nobody but bot/ and console/ may choose one), answers a message that holds a card
number with a fixed refusal before anything reaches the processor or the tracker store, and
otherwise answers the bot's replies together with what the model understood this turn, for the
staff console and the transcripts.
"""

import asyncio
import hmac
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from privacy.cards import looks_like_card_number

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Paychat-Secret"
MAX_MESSAGE_CHARS = 4096
MAX_SENDER_CHARS = 128
# The domain response that refuses a card number; the constant is used only if the domain lacks it.
CARD_REFUSAL_RESPONSE = "utter_card_number_refused"
CARD_REFUSAL_FALLBACK = "Please never send a card number in chat. I did not keep it."


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

            agent = request.app.ctx.agent
            if looks_like_card_number(text):
                # Never handed to Rasa: the text would land in the tracker store and the NLU logs.
                return response.json(_card_refusal(agent))
            if not await _action_server_up(agent):
                # Rasa would carry on without the actions and answer nothing useful; say so instead.
                return response.json({"error": "action server unavailable"}, status=503)
            collector = CollectingOutputChannel()
            try:
                await on_new_message(
                    UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata)
                )
            except Exception:  # the action server down, a model error: the caller must know
                logger.exception("paychat channel: handling a message failed")
                return response.json({"error": "assistant unavailable"}, status=503)
            if not collector.messages:
                # Every paychat turn answers something; silence means an action failed inside Rasa.
                logger.error("paychat channel: no reply for sender %s", sender)
                return response.json({"error": "assistant produced no reply"}, status=503)
            turn = await _turn_details(agent, sender)
            turn["replies"] = [_reply(m) for m in collector.messages]
            return response.json(turn)

        return webhook


async def _action_server_up(agent: Any) -> bool:
    """True when the action server answers its health check (1 s timeout), or none is configured."""
    endpoint = getattr(agent, "action_endpoint", None)
    if endpoint is None or not getattr(endpoint, "url", None):
        return True
    health_url = endpoint.url.rsplit("/webhook", 1)[0] + "/health"
    try:
        timeout = aiohttp.ClientTimeout(total=1.0)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(health_url) as answer:
            return answer.status == 200
    except (asyncio.TimeoutError, aiohttp.ClientError):  # not the builtin on Python 3.10
        return False


def _card_refusal(agent: Any) -> dict[str, Any]:
    """The turn answering a card number: the domain's refusal, nothing parsed, no tracker events."""
    domain = getattr(agent, "domain", None)
    variants = (getattr(domain, "responses", None) or {}).get(CARD_REFUSAL_RESPONSE) or []
    text = variants[0].get("text") if variants else None
    reply = {"text": text or CARD_REFUSAL_FALLBACK, "buttons": [], "custom": {"card_number_refused": True}}
    return {"replies": [reply], "parse": {}, "slots": {}, "events": []}


def _reply(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "text": message.get("text"),
        "buttons": [
            {"title": b.get("title", ""), "payload": b.get("payload", "")}
            for b in message.get("buttons") or []
        ],
        "custom": message.get("custom") or {},
    }


async def _turn_details(agent: Any, sender: str) -> dict[str, Any]:
    """What the model understood in the latest turn, the slots after it and its events."""
    tracker = await agent.tracker_store.retrieve(sender)
    if tracker is None:
        return {"parse": {}, "slots": {}, "events": []}
    events: list[dict[str, Any]] = [e.as_dict() for e in tracker.events]
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=0)
    parse = tracker.latest_message.parse_data if tracker.latest_message else {}
    return {
        "parse": {
            "text": parse.get("text"),
            "intent": parse.get("intent"),
            "ranking": parse.get("intent_ranking", []),
            "entities": parse.get("entities", []),
        },
        "slots": tracker.current_slot_values(),
        "events": events[last_user:],
    }
