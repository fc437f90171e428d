"""Recording a turn: every turn of every conversation (Telegram and console), kept for review and tuning.

`record_turn` is called by the edges (console and bot) after each assistant turn, with the Rasa
channel's response as a dict. It resolves which payment the turn touched and its status, marks
fallbacks, and redacts card numbers (privacy.cards, the project's one detector) and bearer links
(privacy.bearer: the signed 3-D Secure link of a reply) from every stored string: neither reaches
the database. The user got the real link in their chat before the turn is recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from db.models import Conversation, ConversationTurn, Payment, utcnow
from privacy.bearer import mask_bearer_links
from privacy.cards import redact_card_numbers
from privacy.codes import CODE_SLOT, mask_codes
from transcripts.views import TurnView, actions_run, turn_view

FALLBACK_INTENT = "nlu_fallback"
FALLBACK_ACTIONS = frozenset({"action_default_fallback", "action_two_stage_fallback", "utter_default"})
# Slots through which the conversation names the payment it is working on; the last one set in a
# turn wins (a confirm clears `pending_payment_id` after the charge, so events are read, not slots).
PAYMENT_SLOT_SUFFIX = "payment_id"


def _scrub(value: Any) -> Any:
    """A deep copy of a JSON-like value with card numbers removed from every string."""
    if isinstance(value, str):
        return mask_bearer_links(redact_card_numbers(value))
    if isinstance(value, Mapping):
        return {str(key): _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def _mask_codes(value: Any) -> Any:
    """A deep copy of a JSON-like value with one-time codes masked in every string."""
    if isinstance(value, str):
        return mask_codes(value)
    if isinstance(value, Mapping):
        return {str(key): _mask_codes(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_codes(item) for item in value]
    return value


def _answers_code_prompt(previous_slots: Mapping[str, Any] | None, turn: Mapping[str, Any]) -> bool:
    """True when this turn's message answered a one-time-code prompt: the code slot was filled in
    it, or the conversation's previous turn (its slots: `previous_slots`) had just asked for the code."""
    for event in turn.get("events") or []:
        if isinstance(event, Mapping) and event.get("event") == "slot" and event.get("name") == CODE_SLOT:
            return True
    return isinstance(previous_slots, Mapping) and previous_slots.get("requested_slot") == CODE_SLOT


def _payment_id_from_turn(slots: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> int | None:
    found: int | None = None
    for event in events:
        if event.get("event") == "slot" and str(event.get("name", "")).endswith(PAYMENT_SLOT_SUFFIX):
            found = _as_int(event.get("value")) or found
    if found is None:
        for name, value in slots.items():
            if name.endswith(PAYMENT_SLOT_SUFFIX) and _as_int(value) is not None:
                found = _as_int(value)
    return found


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _is_fallback(intent: str | None, actions: Iterable[str]) -> bool:
    return intent == FALLBACK_INTENT or any(name in FALLBACK_ACTIONS for name in actions)


def _conversation_for(
    session: Session, *, sender_id: str, channel: str, user_id: int | None, is_test: bool
) -> tuple[Conversation, int | None, dict[str, Any] | None]:
    """The sender's conversation (created when new), locked until the caller's transaction ends,
    with its last turn's seq and slots (None, None when it has no turn yet).

    Turns of one conversation are recorded one at a time: the conversation row is locked
    (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite serialises writers itself) before its last seq
    is read, in a statement of its own so the read sees the turn a previous holder committed. A new
    sender's racing first turns create one row: the insert does nothing when the row exists.
    Statements for a known sender: 2 (lock, last turn); for a new one: 4.
    """
    conversation = _locked(session, sender_id)
    if conversation is None:
        insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(
            insert(Conversation)
            .values(sender_id=sender_id, channel=channel, user_id=user_id, is_test=is_test)
            .on_conflict_do_nothing(index_elements=[Conversation.sender_id])
        )
        conversation = _locked(session, sender_id)
        if conversation is None:  # the insert (or a racing one) created it: never reached
            raise RuntimeError(f"conversation of {sender_id!r} neither created nor found")
    last = session.execute(
        select(ConversationTurn.seq, ConversationTurn.slots)
        .where(ConversationTurn.conversation_id == conversation.id)
        .order_by(ConversationTurn.seq.desc())
        .limit(1)
    ).first()
    return (conversation, last[0], last[1]) if last is not None else (conversation, None, None)


def _locked(session: Session, sender_id: str) -> Conversation | None:
    return session.scalars(
        select(Conversation)
        .where(Conversation.sender_id == sender_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


@dataclass(frozen=True)
class RecordedTurn:
    """What the edges need of a turn they just stored (no texts: nothing here is shown as a
    transcript, so nothing is redacted for display; staff read transcripts through `turn_view`)."""

    id: int
    conversation_id: int
    seq: int
    actions: list[str]
    payment_id: int | None
    payment_status: str | None
    previous_payment_status: str | None
    is_fallback: bool


def record_turn(
    session: Session,
    *,
    sender_id: str,
    channel: str,
    user_id: int | None,
    is_test: bool,
    user_text: str,
    turn: Mapping[str, Any],
) -> TurnView:
    """Store one turn (the channel response as a dict) and return it as staff see it (redacted,
    transcripts.views.turn_view); the caller commits. Statements: those of `store_turn`."""
    row, previous = _store(
        session,
        sender_id=sender_id,
        channel=channel,
        user_id=user_id,
        is_test=is_test,
        user_text=user_text,
        turn=turn,
    )
    return turn_view(row, previous)


def store_turn(
    session: Session,
    *,
    sender_id: str,
    channel: str,
    user_id: int | None,
    is_test: bool,
    user_text: str,
    turn: Mapping[str, Any],
) -> RecordedTurn:
    """Store one turn exactly as `record_turn` does, without building its redacted view (the bot
    and the console's chat answer with the turn itself: issue 12, perf13); the caller commits."""
    row, previous = _store(
        session,
        sender_id=sender_id,
        channel=channel,
        user_id=user_id,
        is_test=is_test,
        user_text=user_text,
        turn=turn,
    )
    return RecordedTurn(
        id=row.id,
        conversation_id=row.conversation_id,
        seq=row.seq,
        actions=actions_run(row.events or []),
        payment_id=row.payment_id,
        payment_status=row.payment_status,
        previous_payment_status=previous,
        is_fallback=row.is_fallback,
    )


def _store(
    session: Session,
    *,
    sender_id: str,
    channel: str,
    user_id: int | None,
    is_test: bool,
    user_text: str,
    turn: Mapping[str, Any],
) -> tuple[ConversationTurn, str | None]:
    """The stored row and the payment's status at the conversation's previous turn about it.

    Statements for a known sender: the conversation (locked) and its last turn (2), the payment's status
    and its previous status when the turn touched a payment (2), the turn's insert and the
    conversation's `last_message_at` (2).
    """
    clean = cast(dict[str, Any], _scrub(dict(turn)))
    conversation, last_seq, previous_slots = _conversation_for(
        session, sender_id=sender_id, channel=channel, user_id=user_id, is_test=is_test
    )
    if _answers_code_prompt(previous_slots, clean):
        # A one-time code typed in this turn is never kept (issue 13): the text, the parse, the slot
        # and the events that repeat it are masked.
        clean = cast(dict[str, Any], _mask_codes(clean))
        user_text = mask_codes(user_text)
    parse: dict[str, Any] = clean.get("parse") or {}
    slots: dict[str, Any] = clean.get("slots") or {}
    events: list[dict[str, Any]] = clean.get("events") or []
    intent_info = parse.get("intent") or {}
    intent = intent_info.get("name")
    confidence = intent_info.get("confidence")
    actions = actions_run(events)

    payment_id = _payment_id_from_turn(slots, events)
    if payment_id is None:
        # A confirming turn clears the payment slots after charging, so its own events may not name
        # the payment: the payment it acted on is the one the previous turn left in the slots.
        payment_id = _payment_id_from_turn(previous_slots or {}, [])
    # Only a payment of the conversation's own user annotates the turn: a payment id in the slots
    # comes from the tracker, and a forged one must not show someone else's payment to staff.
    payment_status = (
        session.scalar(select(Payment.status).where(Payment.id == payment_id, Payment.user_id == user_id))
        if payment_id and user_id is not None
        else None
    )
    if payment_status is None:
        payment_id = None
    now = utcnow()
    row = ConversationTurn(
        conversation_id=conversation.id,
        seq=(last_seq or 0) + 1,
        user_text=mask_bearer_links(redact_card_numbers(user_text)),
        replies=clean.get("replies") or [],
        intent=intent,
        confidence=float(confidence) if isinstance(confidence, int | float) else None,
        ranking=parse.get("ranking") or [],
        entities=parse.get("entities") or [],
        slots=slots,
        events=events,
        payment_id=payment_id,
        payment_status=payment_status,
        is_fallback=_is_fallback(intent, actions),
        created_at=now,
    )
    session.add(row)
    conversation.last_message_at = now
    session.flush()
    return row, _previous_status(session, conversation.id, row.seq, payment_id)


def _previous_status(session: Session, conversation_id: int, seq: int, payment_id: int | None) -> str | None:
    if payment_id is None:
        return None
    return session.scalar(
        select(ConversationTurn.payment_status)
        .where(
            ConversationTurn.conversation_id == conversation_id,
            ConversationTurn.payment_id == payment_id,
            ConversationTurn.seq < seq,
        )
        .order_by(ConversationTurn.seq.desc())
        .limit(1)
    )
