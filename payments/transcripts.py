"""Transcripts: every turn of every conversation (Telegram and console), kept for review and tuning.

`record_turn` is called by the edges (console and bot) after each assistant turn, with the Rasa
channel's response as a dict. It resolves which payment the turn touched and its status, marks
fallbacks, and scrubs anything that looks like a card number from every stored string: a card
number never reaches the database. The read side returns frozen views, never ORM objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import Conversation, ConversationTurn, Payment, User, utcnow
from payments.cards import looks_like_card_number

FALLBACK_INTENT = "nlu_fallback"
FALLBACK_ACTIONS = frozenset({"action_default_fallback", "action_two_stage_fallback", "utter_default"})
# Slots through which the conversation names the payment it is working on; the last one set in a
# turn wins (a confirm clears `pending_payment_id` after the charge, so events are read, not slots).
PAYMENT_SLOT_SUFFIX = "payment_id"
CARD_PLACEHOLDER = "[removed: looked like a card number]"


def redact_card_numbers(text: str) -> str:
    """`text`, or the placeholder when it contains anything that looks like a card number."""
    # The whole string goes, not only the digits: expiry and CVC are usually typed next to them.
    return CARD_PLACEHOLDER if looks_like_card_number(text) else text


def _scrub(value: Any) -> Any:
    """A deep copy of a JSON-like value with card numbers removed from every string."""
    if isinstance(value, str):
        return redact_card_numbers(value)
    if isinstance(value, Mapping):
        return {str(key): _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


@dataclass(frozen=True)
class TurnView:
    """One recorded turn with its annotations."""

    id: int
    conversation_id: int
    seq: int
    user_text: str
    replies: list[dict[str, Any]]
    intent: str | None
    confidence: float | None
    ranking: list[dict[str, Any]]
    entities: list[dict[str, Any]]
    slots: dict[str, Any]
    events: list[dict[str, Any]]
    actions: list[str]
    payment_id: int | None
    payment_status: str | None
    previous_payment_status: str | None
    is_fallback: bool
    created_at: datetime


@dataclass(frozen=True)
class ConversationSummary:
    """A conversation as the transcript list shows it."""

    id: int
    sender_id: str
    channel: str
    user_id: int | None
    user_name: str | None
    is_test: bool
    started_at: datetime
    last_message_at: datetime
    turn_count: int
    intents: list[str]
    min_confidence: float | None
    fallback_count: int
    payment_statuses: list[str]


@dataclass(frozen=True)
class ConversationDetail:
    """A conversation with all of its turns, in order."""

    summary: ConversationSummary
    turns: list[TurnView]


@dataclass(frozen=True)
class TestUserView:
    """A user flagged is_test, whom staff may impersonate in the test chat."""

    id: int
    name: str
    locale: str
    currency: str
    telegram_user_id: int | None


def actions_run(events: Iterable[Mapping[str, Any]]) -> list[str]:
    """The names of the actions a turn's events show were run (action_listen left out)."""
    return [
        str(event["name"])
        for event in events
        if event.get("event") == "action" and event.get("name") and event.get("name") != "action_listen"
    ]


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
) -> Conversation:
    row = session.scalar(select(Conversation).where(Conversation.sender_id == sender_id))
    if row is not None:
        return row
    # Two turns of a new sender racing: the loser's insert fails on the unique sender_id and it
    # reads the winner's row instead.
    try:
        with session.begin_nested():
            row = Conversation(sender_id=sender_id, channel=channel, user_id=user_id, is_test=is_test)
            session.add(row)
    except IntegrityError:
        row = session.scalars(select(Conversation).where(Conversation.sender_id == sender_id)).one()
    return row


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
    """Store one turn (the channel response as a dict) and return it; the caller commits."""
    clean = cast(dict[str, Any], _scrub(dict(turn)))
    parse: dict[str, Any] = clean.get("parse") or {}
    slots: dict[str, Any] = clean.get("slots") or {}
    events: list[dict[str, Any]] = clean.get("events") or []
    intent_info = parse.get("intent") or {}
    intent = intent_info.get("name")
    confidence = intent_info.get("confidence")
    actions = actions_run(events)

    conversation = _conversation_for(
        session, sender_id=sender_id, channel=channel, user_id=user_id, is_test=is_test
    )
    payment_id = _payment_id_from_turn(slots, events)
    if payment_id is None:
        # A confirming turn clears the payment slots after charging, so its own events may not name
        # the payment: the payment it acted on is the one the previous turn left in the slots.
        previous_slots = session.scalar(
            select(ConversationTurn.slots)
            .where(ConversationTurn.conversation_id == conversation.id)
            .order_by(ConversationTurn.seq.desc())
            .limit(1)
        )
        payment_id = _payment_id_from_turn(previous_slots or {}, [])
    payment_status = (
        session.scalar(select(Payment.status).where(Payment.id == payment_id)) if payment_id else None
    )
    if payment_status is None:
        payment_id = None
    last_seq = session.scalar(
        select(func.max(ConversationTurn.seq)).where(ConversationTurn.conversation_id == conversation.id)
    )
    now = utcnow()
    row = ConversationTurn(
        conversation_id=conversation.id,
        seq=(last_seq or 0) + 1,
        user_text=redact_card_numbers(user_text),
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
    previous = _previous_status(session, conversation.id, row.seq, payment_id)
    return _turn_view(row, previous)


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


def _turn_view(row: ConversationTurn, previous_status: str | None) -> TurnView:
    return TurnView(
        id=row.id,
        conversation_id=row.conversation_id,
        seq=row.seq,
        user_text=row.user_text,
        replies=list(row.replies or []),
        intent=row.intent,
        confidence=row.confidence,
        ranking=list(row.ranking or []),
        entities=list(row.entities or []),
        slots=dict(row.slots or {}),
        events=list(row.events or []),
        actions=actions_run(row.events or []),
        payment_id=row.payment_id,
        payment_status=row.payment_status,
        previous_payment_status=previous_status,
        is_fallback=row.is_fallback,
        created_at=row.created_at,
    )


def _filtered(
    query: Select[tuple[Conversation, str]],
    *,
    since: datetime | None,
    until: datetime | None,
    user_id: int | None,
    intent: str | None,
    below_confidence: float | None,
    fallback_only: bool,
    payment_status: str | None,
    channel: str | None,
    is_test: bool | None,
) -> Select[tuple[Conversation, str]]:
    turn = ConversationTurn
    of_this = turn.conversation_id == Conversation.id
    if since is not None:
        query = query.where(Conversation.last_message_at >= since)
    if until is not None:
        query = query.where(Conversation.started_at < until)
    if user_id is not None:
        query = query.where(Conversation.user_id == user_id)
    if channel is not None:
        query = query.where(Conversation.channel == channel)
    if is_test is not None:
        query = query.where(Conversation.is_test.is_(is_test))
    if intent:
        query = query.where(exists().where(of_this, turn.intent == intent))
    if below_confidence is not None:
        query = query.where(
            exists().where(of_this, or_(turn.confidence < below_confidence, turn.confidence.is_(None)))
        )
    if fallback_only:
        query = query.where(exists().where(of_this, turn.is_fallback.is_(True)))
    if payment_status:
        query = query.where(exists().where(of_this, turn.payment_status == payment_status))
    return query


def list_conversations(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    user_id: int | None = None,
    intent: str | None = None,
    below_confidence: float | None = None,
    fallback_only: bool = False,
    payment_status: str | None = None,
    channel: str | None = None,
    is_test: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[ConversationSummary]:
    """Conversations with a turn matching each given filter, most recent first.

    `since`/`until` select conversations active in that UTC window; `below_confidence` keeps those
    with a turn whose top intent scored under it; `payment_status` one whose payment ended a turn so.
    """
    query = select(Conversation, User.name).outerjoin(User, User.id == Conversation.user_id)
    query = _filtered(
        query,
        since=since,
        until=until,
        user_id=user_id,
        intent=intent,
        below_confidence=below_confidence,
        fallback_only=fallback_only,
        payment_status=payment_status,
        channel=channel,
        is_test=is_test,
    )
    query = (
        query.order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(limit)
        .offset(offset)
    )
    rows = session.execute(query).all()
    turns_by_conversation = _turns_of(session, [conversation.id for conversation, _ in rows])
    return [
        _summary(conversation, name, turns_by_conversation.get(conversation.id, []))
        for conversation, name in rows
    ]


def _turns_of(session: Session, conversation_ids: list[int]) -> dict[int, list[ConversationTurn]]:
    result: dict[int, list[ConversationTurn]] = {}
    if not conversation_ids:
        return result
    query = (
        select(ConversationTurn)
        .where(ConversationTurn.conversation_id.in_(conversation_ids))
        .order_by(ConversationTurn.conversation_id, ConversationTurn.seq)
    )
    for row in session.scalars(query):
        result.setdefault(row.conversation_id, []).append(row)
    return result


def _summary(
    conversation: Conversation, user_name: str | None, turns: list[ConversationTurn]
) -> ConversationSummary:
    confidences = [t.confidence for t in turns if t.confidence is not None]
    intents = list(dict.fromkeys(t.intent for t in turns if t.intent))
    statuses = list(dict.fromkeys(t.payment_status for t in turns if t.payment_status))
    return ConversationSummary(
        id=conversation.id,
        sender_id=conversation.sender_id,
        channel=conversation.channel,
        user_id=conversation.user_id,
        user_name=user_name,
        is_test=conversation.is_test,
        started_at=conversation.started_at,
        last_message_at=conversation.last_message_at,
        turn_count=len(turns),
        intents=intents,
        min_confidence=min(confidences) if confidences else None,
        fallback_count=sum(1 for t in turns if t.is_fallback),
        payment_statuses=statuses,
    )


def get_conversation(session: Session, conversation_id: int) -> ConversationDetail | None:
    """One conversation with its turns (each with the payment status before it), or None."""
    row = session.execute(
        select(Conversation, User.name)
        .outerjoin(User, User.id == Conversation.user_id)
        .where(Conversation.id == conversation_id)
    ).first()
    if row is None:
        return None
    conversation, user_name = row
    turns = _turns_of(session, [conversation.id]).get(conversation.id, [])
    last_status: dict[int, str | None] = {}
    views: list[TurnView] = []
    for turn in turns:
        previous = last_status.get(turn.payment_id) if turn.payment_id is not None else None
        views.append(_turn_view(turn, previous))
        if turn.payment_id is not None:
            last_status[turn.payment_id] = turn.payment_status
    return ConversationDetail(summary=_summary(conversation, user_name, turns), turns=views)


def conversation_id_for_sender(session: Session, sender_id: str) -> int | None:
    """The id of the conversation of `sender_id`, if it has one."""
    return session.scalar(select(Conversation.id).where(Conversation.sender_id == sender_id))


def list_test_users(session: Session) -> list[TestUserView]:
    """Users flagged is_test (the only ones the console may chat as), by name."""
    query = select(User).where(User.is_test.is_(True)).order_by(User.name, User.id)
    return [
        TestUserView(
            id=user.id,
            name=user.name,
            locale=user.locale,
            currency=user.currency,
            telegram_user_id=user.telegram_user_id,
        )
        for user in session.scalars(query)
    ]


def list_intents(session: Session) -> list[str]:
    """Every intent name seen in a recorded turn, for the transcript filter."""
    query = select(ConversationTurn.intent).where(ConversationTurn.intent.is_not(None)).distinct()
    return sorted(name for name in session.scalars(query) if name)


def list_conversation_users(session: Session) -> list[tuple[int, str]]:
    """(id, name) of every user who has a recorded conversation, for the transcript filter."""
    query = (
        select(User.id, User.name)
        .where(exists().where(Conversation.user_id == User.id))
        .order_by(User.name, User.id)
    )
    return [(user_id, name) for user_id, name in session.execute(query).all()]
