"""SQLAlchemy 2.0 models of every paychat table.

The database guards what it can on its own (positive amounts, valid statuses, unique idempotency
keys, one consent per payment); the rest of the invariants live in `payments/`. No card number is
ever stored: saved payment methods keep only Stripe's id, brand, last four digits and expiry.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates

from db.crypto import EncryptedJSON, EncryptedText
from privacy.cards import redact_card_numbers

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

BILL_STATUSES = ("open", "partially_paid", "paid", "void")
PAYMENT_STATUSES = (
    "draft",
    "approved",
    "processing",
    "succeeded",
    "failed",
    "requires_action",
    "unknown",
    "cancelled",
    "awaiting_approval",
)
SCHEDULE_STATUSES = ("scheduled", "executed", "cancelled", "failed")
REFUND_STATUSES = ("pending", "succeeded", "failed")
STAFF_ROLES = ("viewer", "tester", "admin")
CHANNELS = ("telegram", "console")
# The final outcomes a user is told about after their own turn (payments.statuses.NotificationKind).
NOTIFICATION_KINDS = (
    "payment_succeeded",
    "payment_failed",
    "payment_cancelled_by_staff",
    "payment_succeeded_late",
    "payment_expired",
    "step_up_code",
    "bill_reminder",
    "bill_needs_you",
    "autopay_held",
    "autopay_cancelled",
    "mandate_code_expired",
)
# What happened to a trained model in the registry (tuning/registry.py).
MODEL_EVENTS = ("registered", "promoted", "refused", "rolled_back")


def utcnow() -> datetime:
    """The current time in UTC (timezone-aware); storage is always UTC."""
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints the same everywhere."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    """A person paying bills: a Telegram user, or a test user of the staff console.

    Demo users (payments.demo) are console-only: no Telegram id, found by their `demo_key`.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    demo_key: Mapped[str | None] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(EncryptedText())  # personal: encrypted at rest (db/crypto.py)
    locale: Mapped[str] = mapped_column(String(20), default="en_IE")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Berlin")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set by /forget: the name is gone and the Telegram id unlinked; payments stay, anonymized.
    forgotten_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Created from Telegram in demo mode (demo bills, sandbox card): never shown as a live customer.
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Set while the user has blocked the bot; their notifications wait (unsent) until it is cleared.
    telegram_unreachable_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # This user's own limits (integer minor units of their currency); NULL: the configured limit.
    per_payment_limit_minor: Mapped[int | None] = mapped_column(BigInteger)
    daily_limit_minor: Mapped[int | None] = mapped_column(BigInteger)
    monthly_limit_minor: Mapped[int | None] = mapped_column(BigInteger)
    # --- issue 13 item 4 (reminders) ---
    # Whether the worker reminds this user of bills due soon (payments.reminders); they switch it in chat.
    reminders_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # --- end reminders ---

    @validates("name")
    def _no_card_number(self, _key: str, value: str) -> str:
        # The one choke point for the user's personal text (a Telegram first/last name is any 1-64
        # characters the user picks): no card number is ever stored, whoever sets it.
        return redact_card_numbers(value)[:200] if value else value


class StripeCustomer(Base):
    """The Stripe customer that holds a user's saved cards."""

    __tablename__ = "stripe_customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SavedPaymentMethod(Base):
    """A saved card: Stripe's PaymentMethod id and what may be shown (brand, last4, expiry)."""

    __tablename__ = "payment_methods"
    __table_args__ = (
        CheckConstraint("length(last4) = 4", name="last4_four_digits"),
        CheckConstraint("exp_month BETWEEN 1 AND 12", name="exp_month_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("stripe_customers.id", ondelete="CASCADE"))
    stripe_payment_method_id: Mapped[str] = mapped_column(String(255), unique=True)
    brand: Mapped[str] = mapped_column(String(32))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int] = mapped_column(Integer)
    exp_year: Mapped[int] = mapped_column(Integer)
    is_default: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Biller(Base):
    """A company that sends bills; `aliases` are the words people use for it."""

    __tablename__ = "billers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    category: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    aliases: Mapped[list[Any]] = mapped_column(JSON, default=list)


class Bill(Base):
    """One bill of one user from one biller; the amount comes from the biller, never from the user."""

    __tablename__ = "bills"
    __table_args__ = (
        CheckConstraint("amount_due_minor > 0", name="amount_positive"),
        CheckConstraint(_in("status", BILL_STATUSES), name="status_valid"),
        UniqueConstraint("user_id", "biller_id", "reference", name="uq_bills_user_biller_reference"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    biller_id: Mapped[int] = mapped_column(ForeignKey("billers.id"))
    reference: Mapped[str] = mapped_column(String(100))
    amount_due_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Payment(Base):
    """A payment of (part of) a bill, moving through the state machine of DESIGN.md."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint(_in("status", PAYMENT_STATUSES), name="status_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id"), index=True)
    payment_method_id: Mapped[int] = mapped_column(ForeignKey("payment_methods.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    pay_on: Mapped[date] = mapped_column(Date)
    summary_text: Mapped[str] = mapped_column(EncryptedText())
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    failure_code: Mapped[str | None] = mapped_column(String(100))
    failure_message: Mapped[str | None] = mapped_column(Text)
    next_action_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The charge attempt: when the gateway call began, and until when it may still be running (its
    # timeout plus a grace); reconciliation never fails the payment before that deadline.
    charge_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    charge_deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # --- standing mandates (issue 13, item 8) ---
    # Set on an automatic charge: the standing mandate whose consent it runs under (NULL: the user
    # confirmed this payment in chat).
    mandate_id: Mapped[int | None] = mapped_column(ForeignKey("mandates.id"), index=True)
    # --- end standing mandates ---


class Consent(Base):
    """The signed evidence behind one charge: the exact summary shown and the user's confirmation."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    summary_text: Mapped[str] = mapped_column(EncryptedText())
    confirmation: Mapped[str] = mapped_column(EncryptedText())
    confirmed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    signature: Mapped[str] = mapped_column(String(128))
    # 1: the original signed record; 2: a full receipt (payments.consent), `receipt` holds its fields
    # and `receipt_hash` the SHA-256 chained into the audit log.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    receipt_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The PaymentIntent the charge created, signed together with the receipt hash once known.
    payment_intent_id: Mapped[str | None] = mapped_column(String(255))
    intent_signature: Mapped[str | None] = mapped_column(String(128))


# Why a summary can no longer be confirmed (payments.confirming).
SUMMARY_OFFER_CLOSED_REASONS = ("superseded", "used", "cancelled")


class SummaryOffer(Base):
    """One summary shown in a conversation: the draft it offers, a one-time nonce, and what it said.

    Only the nonce's SHA-256 and the summary's SHA-256 are kept; a newer summary in the same
    conversation closes the older ones ("superseded"), a confirmation closes its own ("used").
    """

    __tablename__ = "summary_offers"
    __table_args__ = (
        CheckConstraint(
            f"closed_reason IS NULL OR {_in('closed_reason', SUMMARY_OFFER_CLOSED_REASONS)}",
            name="closed_reason_valid",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    conversation: Mapped[str] = mapped_column(String(200), index=True)
    nonce_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    summary_sha256: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_reason: Mapped[str | None] = mapped_column(String(16))
    # False for a summary offered again after a lost tap (payments.offers.reissue_offer): only its
    # own nonce (the "Try again" button) confirms it, never a typed "yes" that may predate it.
    accepts_typed_yes: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class ScheduledPayment(Base):
    """A confirmed payment waiting for its day (and its cancel window) before it is charged."""

    __tablename__ = "scheduled_payments"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint(_in("status", SCHEDULE_STATUSES), name="status_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id"))
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), unique=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    pay_on: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    # The end of its cancel window (the time lock, UTC): never charged before this. NULL: no lock.
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Notification(Base):
    """Outbox row: tell a user something outside their chat turn; written in the transaction that causes it,
    sent later by the bot."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(_in("kind", NOTIFICATION_KINDS), name="kind_valid"),
        CheckConstraint(
            "payment_id IS NOT NULL OR bill_id IS NOT NULL OR step_up_challenge_id IS NOT NULL",
            name="has_subject",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # What the message is about: a payment (its outcome, its step-up code) or a bill (a reminder,
    # a bill a standing mandate could not pay) or a mandate's step-up challenge. At least one is set.
    payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("bills.id", ondelete="CASCADE"), index=True)
    # A standing mandate's one-time code (its challenge names the offer): no payment, no bill.
    step_up_challenge_id: Mapped[int | None] = mapped_column(
        ForeignKey("step_up_challenges.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # NULL until delivered; the sender claims a row with a compare-and-set on `sent_at IS NULL`.
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    # An outcome told in the user's own chat turn: not sent before this (the front end marks it sent
    # when the turn's reply was delivered). NULL: send at once.
    hold_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A bill's row no longer relevant when it would be sent (reminders switched off, nothing left to
    # pay, past due): kept with `sent_at` set and this reason code, never sent. NULL otherwise.
    dropped_reason: Mapped[str | None] = mapped_column(String(40))


# --- issue 13 item 4 (reminders) ---
class BillReminder(Base):
    """One reminder of one bill for one due date (its window): the key makes it exactly once.

    Written in the same transaction as the outbox row that tells it (payments.reminders); two
    workers racing for the same bill and due date cannot both insert it. A bill whose due date
    moves is a new window and may be reminded again.
    """

    __tablename__ = "bill_reminders"
    __table_args__ = (UniqueConstraint("bill_id", "due_date", name="uq_bill_reminders_bill_due"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id", ondelete="CASCADE"))
    due_date: Mapped[date] = mapped_column(Date)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="SET NULL")
    )
    reminded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --- end reminders ---


class Refund(Base):
    """A staff refund of (part of) a succeeded payment through the processor; never more than charged.

    `idempotency_key` is the caller's key: asking again with it returns this refund, never a second one.
    """

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint(_in("status", REFUND_STATUSES), name="status_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    requested_by: Mapped[str] = mapped_column(String(100))
    failure_message: Mapped[str | None] = mapped_column(Text)
    # Set while one caller is asking the processor (a claim taken by compare-and-set), NULL otherwise.
    attempt_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditLogEntry(Base):
    """One append-only, hash-chained audit row: `hash = sha256(prev_hash + canonical row)`."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # prev_hash is unique: two writers racing for the chain's tail cannot both append after it.
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    event: Mapped[str] = mapped_column(String(64))
    payment_id: Mapped[int | None] = mapped_column(Integer, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ProcessedWebhookEvent(Base):
    """A Stripe webhook event already handled; its id is unique so replays are ignored."""

    __tablename__ = "processed_webhook_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    event_type: Mapped[str] = mapped_column(String(100))
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StaffUser(Base):
    """A member of staff who may log in to the console."""

    __tablename__ = "staff_users"
    __table_args__ = (CheckConstraint(_in("role", STAFF_ROLES), name="role_valid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="viewer")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StaffApiToken(Base):
    """A staff member's API token for scripts: only its SHA-256 is kept; a revoked one stays listed.

    Its role never exceeds the staff member's: the lower of the two applies on each request.
    """

    __tablename__ = "staff_api_tokens"
    __table_args__ = (CheckConstraint(_in("role", STAFF_ROLES), name="role_valid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginThrottle(Base):
    """Failed staff logins of one account or one client address (a digest key), and its lock.

    Shared by every console process (console/throttle.py); Redis holds the same when configured.
    """

    __tablename__ = "login_throttle"
    __table_args__ = (CheckConstraint("failures > 0", name="failures_positive"),)

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Conversation(Base):
    """One sender's conversation with the assistant (Telegram chat or console session)."""

    __tablename__ = "conversations"
    __table_args__ = (CheckConstraint(_in("channel", CHANNELS), name="channel_valid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set when retention anonymized it (transcripts/retention.py): texts redacted, links cut.
    anonymized_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ConversationTurn(Base):
    """One user message and the assistant's replies, with what the model understood."""

    __tablename__ = "conversation_turns"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_conversation_turns_conversation_seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    # What the user wrote and what the assistant answered (and the slots, entities and events that
    # repeat it): personal, encrypted at rest (db/crypto.py). Intent and ranking stay searchable.
    user_text: Mapped[str] = mapped_column(EncryptedText())
    replies: Mapped[list[Any]] = mapped_column(EncryptedJSON(), default=list)
    intent: Mapped[str | None] = mapped_column(String(100))
    confidence: Mapped[float | None] = mapped_column(Float)  # NLU confidence, not money
    ranking: Mapped[list[Any]] = mapped_column(JSON, default=list)
    entities: Mapped[list[Any]] = mapped_column(EncryptedJSON(), default=list)
    slots: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON(), default=dict)
    events: Mapped[list[Any]] = mapped_column(EncryptedJSON(), default=list)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="SET NULL"))
    payment_status: Mapped[str | None] = mapped_column(String(20))
    is_fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReviewLabel(Base):
    """A staff member's label for a user message: the right intent and entity spans (tuning loop).

    `text` is the redacted message the reviewer saw (offsets of `entities` refer to it); labels of
    the same normalised text share `text_key`, so disagreeing reviewers show up as a conflict. One
    label per reviewer and text: labelling again replaces it.
    """

    __tablename__ = "review_labels"
    __table_args__ = (UniqueConstraint("text_key", "staff_username", name="uq_review_labels_text_key_staff"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text_key: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(Text)
    turn_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversation_turns.id", ondelete="SET NULL"), index=True
    )
    intent: Mapped[str] = mapped_column(String(100))
    entities: Mapped[list[Any]] = mapped_column(JSON, default=list)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    staff_username: Mapped[str] = mapped_column(String(100))
    labelled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TunedModel(Base):
    """A trained Rasa model in the registry: its file, training-data fingerprint and metrics."""

    __tablename__ = "tuned_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    path: Mapped[str] = mapped_column(Text)
    data_fingerprint: Mapped[str] = mapped_column(String(64))
    examples_added: Mapped[int] = mapped_column(Integer, default=0)
    trained_by: Mapped[str] = mapped_column(String(100))
    trained_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    train_seconds: Mapped[float | None] = mapped_column(Float)  # wall time of training, not money
    # The last comparison: per set intent macro-F1, accuracy, per-intent and entity F1, stories.
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    promoted_by: Mapped[str | None] = mapped_column(String(100))
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TunedModelEvent(Base):
    """Registered, promoted (served), refused promotion or rolled back: who, when, why."""

    __tablename__ = "tuned_model_events"
    __table_args__ = (CheckConstraint(_in("action", MODEL_EVENTS), name="action_valid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("tuned_models.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# --- issue 13 items 2 and 5: step-up codes and risk decisions (migration 0019) -------------------
STEP_UP_STATUSES = ("pending", "verified", "failed", "expired", "cancelled")
RISK_VERDICTS = ("allow", "step_up", "refuse")


class StepUpChallenge(Base):
    """A payment's one-time code (payments/step_up.py): only its keyed hash is kept for checking.

    `code_sealed` holds the plain code encrypted (db/crypto) only until the outbox has delivered it,
    then it is cleared. `confirmation` and the tap are the user's Confirm, kept to sign the consent
    once the code is verified.
    """

    __tablename__ = "step_up_challenges"
    __table_args__ = (
        CheckConstraint(_in("status", STEP_UP_STATUSES), name="status_valid"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint(
            "(payment_id IS NOT NULL AND mandate_consent_id IS NULL)"
            " OR (payment_id IS NULL AND mandate_consent_id IS NOT NULL)",
            name="one_subject",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # What the code proves: a payment, or a standing mandate's offer (its terms; exactly one is set).
    payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), unique=True
    )
    mandate_consent_id: Mapped[int | None] = mapped_column(
        ForeignKey("mandate_consents.id", ondelete="CASCADE"), unique=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    code_sealed: Mapped[str | None] = mapped_column(EncryptedText())
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmation: Mapped[str] = mapped_column(EncryptedText(), default="")
    tap_callback_id: Mapped[str | None] = mapped_column(String(128))
    tapped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RiskDecision(Base):
    """One risk check of a payment (payments/risk.py): score, reason codes, verdict; audited too."""

    __tablename__ = "risk_decisions"
    __table_args__ = (CheckConstraint(_in("decision", RISK_VERDICTS), name="decision_valid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    decision: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
# --- standing mandates (issue 13, item 8; payments/mandates.py) ---------------------------------
MANDATE_STATUSES = ("proposed", "active", "paused", "revoked", "expired", "cancelled")
MANDATE_DECISIONS = ("paid", "asked")


class Mandate(Base):
    """A standing mandate (autopay): pay this user's bills from one biller with one card, each up
    to `cap_minor`, together up to `budget_minor` per calendar month in the user's zone, until
    `expires_on` (inclusive, the user's day). Its terms are those of its latest confirmed consent."""

    __tablename__ = "mandates"
    __table_args__ = (
        CheckConstraint("cap_minor > 0", name="cap_positive"),
        CheckConstraint("budget_minor > 0", name="budget_positive"),
        CheckConstraint(_in("status", MANDATE_STATUSES), name="status_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    biller_id: Mapped[int] = mapped_column(ForeignKey("billers.id"))
    payment_method_id: Mapped[int] = mapped_column(ForeignKey("payment_methods.id"))
    cap_minor: Mapped[int] = mapped_column(BigInteger)
    budget_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    expires_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="proposed", index=True)
    # The latest confirmed consent (mandate_consents.id); NULL while only proposed.
    consent_id: Mapped[int | None] = mapped_column(Integer)
    # When it was first confirmed: only bills issued after this are paid under it.
    active_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MandateConsent(Base):
    """One set of terms offered for a mandate (creating or changing it) and, once the user confirmed
    the exact summary, their signed consent (HMAC like a consent receipt, its hash in the audit log)."""

    __tablename__ = "mandate_consents"
    __table_args__ = (
        CheckConstraint("cap_minor > 0", name="cap_positive"),
        CheckConstraint("budget_minor > 0", name="budget_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mandate_id: Mapped[int] = mapped_column(ForeignKey("mandates.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    payment_method_id: Mapped[int] = mapped_column(ForeignKey("payment_methods.id"))
    cap_minor: Mapped[int] = mapped_column(BigInteger)
    budget_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    expires_on: Mapped[date] = mapped_column(Date)
    summary_text: Mapped[str] = mapped_column(EncryptedText())
    nonce_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    offered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Closed once: confirmed (then signed) or withdrawn ("cancelled", "superseded").
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_reason: Mapped[str | None] = mapped_column(String(16))
    confirmation: Mapped[str | None] = mapped_column(EncryptedText())
    signature: Mapped[str | None] = mapped_column(String(128))
    receipt_hash: Mapped[str | None] = mapped_column(String(64), unique=True)


class MandateBillDecision(Base):
    """What the worker did with one bill under a mandate, once: paid it (`payment_id`) or asked the
    user (`reason`). Unique per bill, so two workers never both act on it."""

    __tablename__ = "mandate_bill_decisions"
    __table_args__ = (CheckConstraint(_in("decision", MANDATE_DECISIONS), name="decision_valid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id", ondelete="CASCADE"), unique=True)
    mandate_id: Mapped[int] = mapped_column(ForeignKey("mandates.id", ondelete="CASCADE"), index=True)
    decision: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(40))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --- end standing mandates -----------------------------------------------------------------------


# Ids are never reused (migration 0014): the audit log, consent receipts and transcripts keep ids of
# rows that may be deleted later (a test user's reset, retention), and a reused id would pin that
# history on an unrelated new row. PostgreSQL sequences never reuse; SQLite needs AUTOINCREMENT.
for _table in Base.metadata.tables.values():
    if [column.name for column in _table.primary_key.columns] == ["id"]:
        _table.dialect_kwargs["sqlite_autoincrement"] = True
