"""Reading transcripts: conversations filtered for review, one conversation with its turns, test users."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import Session

from db.models import Conversation, ConversationTurn, User
from transcripts.views import ConversationDetail, ConversationSummary, TestUserView, TurnView, turn_view


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
        views.append(turn_view(turn, previous))
        if turn.payment_id is not None:
            last_status[turn.payment_id] = turn.payment_status
    return ConversationDetail(summary=_summary(conversation, user_name, turns), turns=views)


def conversation_id_for_sender(session: Session, sender_id: str) -> int | None:
    """The id of the conversation of `sender_id`, if it has one."""
    return session.scalar(select(Conversation.id).where(Conversation.sender_id == sender_id))


def list_test_users(session: Session) -> list[TestUserView]:
    """Users flagged is_test (the only ones the console may chat as), by name."""
    # Names are encrypted at rest (db/crypto.py): the database cannot sort them, Python does.
    users = sorted(session.scalars(select(User).where(User.is_test.is_(True))), key=lambda u: (u.name, u.id))
    return [
        TestUserView(
            id=user.id,
            name=user.name,
            locale=user.locale,
            currency=user.currency,
            telegram_user_id=user.telegram_user_id,
        )
        for user in users
    ]


def find_test_user(
    session: Session, *, user_id: int | None = None, demo_key: str | None = None
) -> TestUserView | None:
    """The test user with this id (or this demo key), or None when there is none: one query by key,
    whatever the number of test users (the console resolves the user of every chat turn with it)."""
    query = select(User).where(User.is_test.is_(True))
    if user_id is not None:
        query = query.where(User.id == user_id)
    elif demo_key is not None:
        query = query.where(User.demo_key == demo_key)
    else:
        raise ValueError("find_test_user needs a user_id or a demo_key")
    user = session.scalar(query)
    if user is None:
        return None
    return TestUserView(
        id=user.id,
        name=user.name,
        locale=user.locale,
        currency=user.currency,
        telegram_user_id=user.telegram_user_id,
    )


def list_intents(session: Session) -> list[str]:
    """Every intent name seen in a recorded turn, for the transcript filter."""
    query = select(ConversationTurn.intent).where(ConversationTurn.intent.is_not(None)).distinct()
    return sorted(name for name in session.scalars(query) if name)


def list_conversation_users(session: Session) -> list[tuple[int, str]]:
    """(id, name) of every user who has a recorded conversation, for the transcript filter."""
    query = select(User.id, User.name).where(exists().where(Conversation.user_id == User.id))
    # Names are encrypted at rest: sorted here, not by the database.
    return sorted(
        ((user_id, name) for user_id, name in session.execute(query).all()), key=lambda r: (r[1], r[0])
    )


def sender_ids_of_user(session: Session, user_id: int) -> list[str]:
    """The sender ids of every recorded conversation of a user (Telegram and console), oldest first."""
    query = select(Conversation.sender_id).where(Conversation.user_id == user_id).order_by(Conversation.id)
    return list(session.scalars(query))
