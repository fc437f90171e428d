"""Step-up for the user: a one-time code, sent as a separate message, before a payment goes on.

When the user confirms a draft, `StepUp.gate` runs first (before approval, under the user's row
lock): the risk check (payments/risk.py) scores it and may refuse it (the draft is cancelled); a
payment at or over `ServiceConfig.step_up_minor`, or one the risk check flags `step_up`, gets a
challenge instead of an approval. The gate's transaction commits before approval's, so approval
looks again under the lock (`StepUp.recheck`): a part to the same biller approved since (confirmed
concurrently) can make a draft large. Order of the controls: risk check → the user's code → the
staff's second approval → the time lock → the charge; so staff never review a payment its own
user has not proved, and the cancel window counts from the verified confirmation.

The code: 6 digits from `secrets`, stored only as HMAC-SHA256 under the server key (`code_hash`)
and, until the outbox delivered it, encrypted with db/crypto (`code_sealed`, cleared when the
notification is marked sent). It expires (`step_up_ttl`), allows `step_up_max_attempts` tries,
and is compared with `hmac.compare_digest`. Wrong too often or expired → the draft is cancelled
and the user told. Too many wrong tries across all the user's codes lately lock the user out
(`locked_until`): no new code, and no try at a code sent before (refused, closed as failed); the
try that reaches the lock closes their other pending codes. Every step is audited (never the
code). Nothing is approved, so nothing can be charged, before the code is verified; `Charging` also
refuses to start a charge of a payment whose challenge is not verified.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import Notification, Payment, StepUpChallenge, User
from payments.audit import append_audit
from payments.config import ServiceConfig
from payments.consent import TapEvidence
from payments.dates import LocalMoment, local_moment
from payments.errors import (
    PaymentsError,
    RiskRefusedError,
    StepUpCodeWrongError,
    StepUpExpiredError,
    StepUpFailedError,
    StepUpLockedError,
    StepUpNotPendingError,
)
from payments.ledger import Ledger
from payments.machine import StateMachine
from payments.money import Money, format_money
from payments.outbox import queue_notification
from payments.risk import check_payment
from payments.statuses import NotificationKind, PaymentStatus, RiskVerdict, StepUpReason, StepUpStatus
from payments.unit_of_work import UnitOfWork, lock_user, owned_payment, rowcount
from payments.views import StepUpView, biller_name

P = PaymentStatus
CODE_DIGITS = 6
# Six digits in what the user typed, allowing spaces or dashes between groups ("482 913", "482-913").
CODE_IN_TEXT = re.compile(r"(?<!\d)(\d(?:[ \-]?\d){5})(?!\d)")


def new_code() -> str:
    """A fresh 6-digit one-time code from the operating system's CSPRNG."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hash(key: bytes, payment_id: int, code: str) -> str:
    """HMAC-SHA256 of the code, bound to its payment (a code of one payment never fits another)."""
    return hmac.new(key, f"{payment_id}:{code}".encode(), hashlib.sha256).hexdigest()


def code_in(text: str) -> str | None:
    """The 6-digit code in what the user typed (spaces and dashes between digits ignored), or None.

    Always ASCII digits: a code typed with another script's digits (fullwidth, Arabic-Indic, ...) is
    the same code (`unicodedata.digit`), so it hashes as the one sent.
    """
    found = CODE_IN_TEXT.findall(text or "")
    if len(found) != 1:
        return None
    return "".join(str(unicodedata.digit(char)) for char in re.sub(r"[ \-]", "", found[0]))


class CheckResult(StrEnum):
    """What checking a typed code found (committed before any error is raised)."""

    VERIFIED = "verified"
    WRONG = "wrong"
    FAILED = "failed"
    EXPIRED = "expired"
    LOCKED = "locked"  # the user is locked out of codes: refused without a try, the code closed failed


@dataclass(frozen=True)
class Tally:
    """One try's outcome (`tally_try`); `until` (UTC): the user is locked out of codes until then —
    refused (LOCKED), or this very try made their wrong tries reach the lock."""

    result: CheckResult
    left: int
    until: datetime | None = None


# Closes a user's pending codes of the other kind when their wrong tries reach the lock (the
# service wires the mandates' one into `StepUp.on_lock`; payments.mandate_step_up imports this).
OnLock = Callable[[Session, int, int, datetime], None]


@dataclass(frozen=True)
class VerifiedConsent:
    """A verified code's payment and the user's Confirm kept for it, to approve it with."""

    payment_id: int
    consent_text: str
    confirmation: str
    tap: TapEvidence


@dataclass(frozen=True)
class GateVerdict:
    """What the gate decided: go on (neither set), wait for the code (`waiting`), or `refused`."""

    waiting: StepUpView | None = None
    refused: PaymentsError | None = None

    def outcome(self) -> StepUpView | None:
        """The pending code's view (None: go on); raises the refusal. Call after the commit."""
        if self.refused is not None:
            raise self.refused
        return self.waiting


class StepUp:
    """Risk check and one-time codes between the user's Confirm and the approval."""

    def __init__(self, uow: UnitOfWork, ledger: Ledger, machine: StateMachine, config: ServiceConfig) -> None:
        self._uow = uow
        self._ledger = ledger
        self._machine = machine
        self._config = config
        self.on_lock: OnLock | None = None

    def gate(
        self, *, user_id: int, payment_id: int, confirmation: str, tap: TapEvidence
    ) -> StepUpView | None:
        """Before approving a draft: None when it may go on; a view when a code is pending for it.

        Raises RiskRefusedError (the draft cancelled, the decision recorded and committed first),
        StepUpLockedError (a RiskRefusedError: it needs a code but the user failed too many codes
        lately; cancelled; `until`: a LocalMoment) and StepUpExpiredError (its code expired
        meanwhile; cancelled).
        """
        with self._uow.tx() as session:
            user = lock_user(session, user_id)
            verdict = self.decide(session, user, payment_id, confirmation=confirmation, tap=tap)
        return verdict.outcome()

    def decide(
        self, session: Session, user: User, payment_id: int, *, confirmation: str, tap: TapEvidence
    ) -> GateVerdict:
        """`gate` inside the caller's transaction, which holds `user`'s row lock (taken before the
        payment was read). Its refusal is returned, to be raised once that transaction committed
        (`GateVerdict.outcome`): the cancelled draft and the recorded decision must stay."""
        payment = owned_payment(session, user.id, payment_id)
        if payment.status != P.DRAFT.value:
            return GateVerdict()  # approved meanwhile (or closed): approval reports where it stands
        now = self._uow.now()
        challenge = _challenge_of(session, payment.id)
        if challenge is not None:
            if challenge.status == StepUpStatus.VERIFIED.value:
                return GateVerdict()
            if challenge.status == StepUpStatus.PENDING.value and now < _aware(challenge.expires_at):
                return GateVerdict(waiting=self._view(session, challenge, payment, user, now))
            self._close(session, challenge, payment, StepUpStatus.EXPIRED, now)
            return GateVerdict(refused=StepUpExpiredError(payment_id=payment_id))
        reasons = self._reasons(session, payment, user, now)
        return self._verdict(session, payment, user, reasons, confirmation, tap, now)

    def recheck(
        self, session: Session, user: User, payment: Payment, *, confirmation: str, tap: TapEvidence
    ) -> GateVerdict | None:
        """Approval's look again, under `user`'s row lock, at a draft the gate let on without a code
        (module docstring): the gate's verdict if it is large now (a code, or a locked-out user's
        refusal), None to go on. The risk check is not run twice for one confirmation."""
        now = self._uow.now()
        reasons = self._reasons(session, payment, user, now, risk=False)
        return self._verdict(session, payment, user, reasons, confirmation, tap, now) if reasons else None

    def _verdict(
        self, session: Session, payment: Payment, user: User, reasons: tuple[str, ...] | RiskRefusal,
        confirmation: str, tap: TapEvidence, now: datetime,
    ) -> GateVerdict:  # fmt: skip
        """A refusal cancels the draft; reasons issue a code; none: go on."""
        if isinstance(reasons, RiskRefusal):
            self._machine.move(
                session, payment, P.DRAFT, P.CANCELLED,
                reason="step_up_locked" if reasons.until else "risk_refused",
                audit_data={"risk_reasons": list(reasons.reasons)},
            )  # fmt: skip
            why = list(reasons.reasons)
            if reasons.until is not None:
                locked = StepUpLockedError(payment_id=payment.id, reasons=why, until=reasons.until)
                return GateVerdict(refused=locked)
            return GateVerdict(refused=RiskRefusedError(payment_id=payment.id, reasons=why))
        if reasons:
            challenge = self._issue(session, payment, reasons, confirmation, tap, now)
            return GateVerdict(waiting=self._view(session, challenge, payment, user, now))
        return GateVerdict()

    def _reasons(
        self, session: Session, payment: Payment, user: User, now: datetime, *, risk: bool = True
    ) -> tuple[str, ...] | RiskRefusal:
        """Why this draft needs a code (StepUpReason values; empty: it does not), or a refusal.

        "Large" is what the user pays this biller within `step_up_period`, this payment included
        (the second approval's sum, `Ledger.paid_to_biller_around`): parts of one large amount
        confirmed one after the other need the code too. A draft that needs a code while the user
        is locked out (`_locked_until`) is refused instead.
        """
        reasons: list[str] = []
        threshold = self._config.step_up_minor
        if threshold > 0:
            before = self._ledger.paid_to_biller_around(session, payment, self._config.step_up_period)
            if before.amount_minor + payment.amount_minor >= threshold:
                reasons.append(StepUpReason.LARGE_AMOUNT.value)
        found = check_payment(session, payment, self._config.risk, now) if risk else None
        if found is not None and found.decision == RiskVerdict.REFUSE:
            return RiskRefusal(tuple(reason.value for reason in found.reasons))
        if found is not None and found.decision == RiskVerdict.STEP_UP:
            reasons.extend(reason.value for reason in found.reasons)
        until = self._locked_until(session, payment.user_id, now) if reasons else None
        if until is not None:
            append_audit(
                session, event="step_up.locked", payment_id=payment.id, user_id=payment.user_id,
                data={"until": until.isoformat(), "failures": self._config.step_up_lock_failures},
            )  # fmt: skip
            moment = local_moment(until, timezone=user.timezone, locale=user.locale, now=now)
            return RiskRefusal((StepUpReason.TOO_MANY_FAILED_CODES.value,), until=moment)
        return tuple(reasons)

    def _locked_until(self, session: Session, user_id: int, now: datetime) -> datetime | None:
        return locked_until(session, self._config, user_id, now)

    def _issue(
        self, session: Session, payment: Payment, reasons: tuple[str, ...], confirmation: str,
        tap: TapEvidence, now: datetime,
    ) -> StepUpChallenge:  # fmt: skip
        """Record a challenge with a fresh code and queue its separate message (the outbox)."""
        code = new_code()
        challenge = StepUpChallenge(
            payment_id=payment.id,
            user_id=payment.user_id,
            code_hash=code_hash(self._config.step_up_key, payment.id, code),
            code_sealed=code,  # encrypted at rest by the column type; cleared once delivered
            reasons=list(reasons),
            status=StepUpStatus.PENDING.value,
            attempts=0,
            created_at=now,
            expires_at=now + self._config.step_up_ttl,
            confirmation=confirmation,
            tap_callback_id=tap.callback_id,
            tapped_at=tap.tapped_at,
        )
        session.add(challenge)
        session.flush()
        queue_notification(session, payment, NotificationKind.STEP_UP_CODE, now)
        append_audit(
            session, event="step_up.issued", payment_id=payment.id, user_id=payment.user_id,
            data={"reasons": list(reasons), "expires_at": challenge.expires_at.isoformat()},
        )  # fmt: skip
        return challenge

    def verify(self, *, user_id: int, code_text: str, payment_id: int | None = None) -> VerifiedConsent:
        """Check the code the user typed against their pending challenge (the given payment's, or
        their latest). Returns what approving the payment needs once it is verified.

        Raises StepUpNotPendingError (none waiting), StepUpCodeWrongError (`attempts_left`),
        StepUpFailedError (the last try: cancelled), StepUpExpiredError (cancelled),
        StepUpLockedError (the user is locked out of codes: refused, cancelled; `until`). Every try
        is counted and audited before an error is raised.
        """
        until: LocalMoment | None = None
        with self._uow.tx() as session:
            user = lock_user(session, user_id)
            challenge = _pending_of(session, user_id, payment_id)
            if challenge is None:
                raise StepUpNotPendingError(payment_id=payment_id)
            payment = session.get(Payment, challenge.payment_id or 0, populate_existing=True)
            if payment is None:
                raise StepUpNotPendingError(payment_id=payment_id)
            if payment.status != P.DRAFT.value:
                self._close(session, challenge, payment, StepUpStatus.CANCELLED, self._uow.now())
                found, left = None, 0
            else:
                tally = self._check(session, challenge, payment, code_text)
                found, left = tally.result, tally.left
                if found == CheckResult.LOCKED and tally.until is not None:
                    until = local_moment(tally.until, timezone=user.timezone, locale=user.locale,
                                         now=self._uow.now())  # fmt: skip
            kept = VerifiedConsent(
                payment_id=payment.id,
                consent_text=payment.summary_text,
                confirmation=challenge.confirmation or payment.summary_text,
                tap=TapEvidence(callback_id=challenge.tap_callback_id, tapped_at=challenge.tapped_at),
            )
        return _verified_or_raise(found, left, kept, until)

    def _check(self, session: Session, challenge: StepUpChallenge, payment: Payment, code_text: str) -> Tally:
        """One try: verified, wrong (tries left), failed (last try), expired or locked (the user is
        locked out: refused, closed as failed); recorded and audited. A try that makes the user's
        wrong tries reach the lock closes their other pending codes (payments' and mandates')."""
        now = self._uow.now()
        if now >= _aware(challenge.expires_at):
            self._close(session, challenge, payment, StepUpStatus.EXPIRED, now)
            return Tally(CheckResult.EXPIRED, 0)
        typed = code_hash(self._config.step_up_key, payment.id, code_in(code_text) or "")
        tally = tally_try(
            session, challenge, typed, self._config, now,
            audit={"payment_id": payment.id, "user_id": payment.user_id},
        )  # fmt: skip
        if tally.result in (CheckResult.VERIFIED, CheckResult.FAILED, CheckResult.LOCKED):
            status = StepUpStatus.VERIFIED if tally.result == CheckResult.VERIFIED else StepUpStatus.FAILED
            self._close(session, challenge, payment, status, now)
        if tally.until is not None:
            fail_payment_codes(session, self._machine, payment.user_id, challenge.id, now)
            if self.on_lock is not None:
                self.on_lock(session, payment.user_id, challenge.id, now)
        return tally

    def _close(
        self, session: Session, challenge: StepUpChallenge, payment: Payment, status: StepUpStatus,
        now: datetime,
    ) -> None:  # fmt: skip
        """Close a pending challenge; a failed or expired one cancels its draft (audited both)."""
        close_payment_code(session, self._machine, challenge, payment, status, now)

    def pending(self, *, user_id: int) -> StepUpView | None:
        """The user's code waiting to be typed (their latest), or None."""
        with self._uow.tx() as session:
            challenge = _pending_of(session, user_id, None)
            if challenge is None:
                return None
            payment = session.get(Payment, challenge.payment_id)
            user = session.get(User, user_id)
            assert payment is not None and user is not None
            return self._view(session, challenge, payment, user, self._uow.now())

    def expire_codes(self) -> int:
        """The worker's round: pending codes past their time are closed and their drafts cancelled,
        each user told (`payment_expired`); how many."""
        now = self._uow.now()
        with self._uow.tx() as session:
            due = (
                session.execute(
                    select(StepUpChallenge).where(
                        StepUpChallenge.status == StepUpStatus.PENDING.value,
                        StepUpChallenge.expires_at <= now,
                        StepUpChallenge.payment_id.is_not(None),  # a mandate's: payments.mandate_step_up
                    )
                )
                .scalars()
                .all()
            )
            for challenge in due:
                payment = session.get(Payment, challenge.payment_id)
                assert payment is not None
                was_draft = payment.status == P.DRAFT.value
                self._close(session, challenge, payment, StepUpStatus.EXPIRED, now)
                if was_draft:
                    queue_notification(session, payment, NotificationKind.EXPIRED, now)
            return len(due)

    def _view(
        self, session: Session, challenge: StepUpChallenge, payment: Payment, user: User, now: datetime
    ) -> StepUpView:
        amount = Money(payment.amount_minor, payment.currency)
        return StepUpView(
            payment_id=payment.id,
            reasons=tuple(challenge.reasons or ()),
            expires_at=local_moment(_aware(challenge.expires_at), timezone=user.timezone, locale=user.locale,
                                    now=now),
            attempts_left=max(0, self._config.step_up_max_attempts - challenge.attempts),
            amount_text=format_money(amount, user.locale),
            biller_name=biller_name(session, payment.bill_id),
        )  # fmt: skip


def tally_try(
    session: Session, challenge: StepUpChallenge, typed_hash: str, config: ServiceConfig, now: datetime, *,
    audit: dict[str, Any],
) -> Tally:  # fmt: skip
    """One try at a pending challenge, for a payment's code and a mandate's alike.

    A user locked out of codes (`locked_until`: too many wrong tries lately) is refused first,
    whatever they typed (a code sent before the lock takes no more guesses): LOCKED with `until`,
    audited `step_up.locked`; the caller closes the code as failed. Else VERIFIED when `typed_hash`
    (the keyed hash of what was typed, bound to the challenge's subject) equals the stored one
    (constant time: how much matched never shows in how long it took); else the wrong try is
    counted (once, even when two tries race: optimistic update on `attempts`) and audited as
    `step_up.wrong_code` with `audit` (payment_id/user_id, or user_id and data for a mandate), then
    WRONG with the tries left, or FAILED on the last one — with `until` set when this try made the
    user's wrong tries reach the lock (the caller then closes their other pending codes). The caller
    closes a VERIFIED, FAILED or LOCKED one.
    """
    max_attempts = config.step_up_max_attempts
    until = locked_until(session, config, challenge.user_id, now)
    if until is not None:
        append_audit(
            session, event="step_up.locked", payment_id=audit.get("payment_id"), user_id=audit["user_id"],
            data={**audit.get("data", {}), "until": until.isoformat(), "at": "code_typed"},
        )  # fmt: skip
        return Tally(CheckResult.LOCKED, 0, until)
    if hmac.compare_digest(typed_hash, challenge.code_hash):
        return Tally(CheckResult.VERIFIED, 0)
    attempts = challenge.attempts + 1
    won = session.execute(
        update(StepUpChallenge)
        .where(StepUpChallenge.id == challenge.id, StepUpChallenge.attempts == challenge.attempts)
        .values(attempts=attempts)
        .execution_options(synchronize_session=False)
    )
    if rowcount(won) != 1:
        return Tally(CheckResult.WRONG, max(0, max_attempts - attempts))
    data = {**audit.get("data", {}), "attempt": attempts, "max_attempts": max_attempts}
    append_audit(
        session, event="step_up.wrong_code", payment_id=audit.get("payment_id"), user_id=audit["user_id"],
        data=data,
    )  # fmt: skip
    reached = locked_until(session, config, challenge.user_id, now)
    if attempts >= max_attempts:
        session.refresh(challenge)
        return Tally(CheckResult.FAILED, 0, reached)
    return Tally(CheckResult.WRONG, max_attempts - attempts, reached)


def close_payment_code(
    session: Session, machine: StateMachine, challenge: StepUpChallenge, payment: Payment,
    status: StepUpStatus, now: datetime,
) -> None:  # fmt: skip
    """Close a pending challenge; a failed or expired one cancels its draft (audited both)."""
    won = session.execute(
        update(StepUpChallenge)
        .where(StepUpChallenge.id == challenge.id, StepUpChallenge.status == StepUpStatus.PENDING.value)
        .values(status=status.value, closed_at=now, code_sealed=None)
        .execution_options(synchronize_session=False)
    )
    if rowcount(won) != 1:
        return
    _drop_undelivered_code(session, payment.id, now)
    append_audit(
        session, event=f"step_up.{status.value}", payment_id=payment.id, user_id=payment.user_id,
        data={"attempts": challenge.attempts},
    )  # fmt: skip
    if status in (StepUpStatus.FAILED, StepUpStatus.EXPIRED) and payment.status == P.DRAFT.value:
        machine.move(session, payment, P.DRAFT, P.CANCELLED, reason=f"step_up_{status.value}")


def fail_payment_codes(
    session: Session, machine: StateMachine, user_id: int, keep_id: int, now: datetime
) -> None:
    """The user's wrong tries reached the lock: their pending payment codes but `keep_id` (the one
    just tried: its next try is refused as locked) are closed as failed (drafts cancelled,
    undelivered messages never sent; audited)."""
    pending = session.execute(
        select(StepUpChallenge, Payment)
        .join(Payment, StepUpChallenge.payment_id == Payment.id)
        .where(
            StepUpChallenge.user_id == user_id,
            StepUpChallenge.status == StepUpStatus.PENDING.value,
            StepUpChallenge.id != keep_id,
        )
        .execution_options(populate_existing=True)
    ).all()
    for challenge, payment in pending:
        close_payment_code(session, machine, challenge, payment, StepUpStatus.FAILED, now)


@dataclass(frozen=True)
class RiskRefusal:
    """The risk check refused a draft, for these RiskReason values; `until`: the user is locked out
    of codes until then (`reasons` is then `too_many_failed_codes`)."""

    reasons: tuple[str, ...]
    until: LocalMoment | None = None


def locked_until(session: Session, config: ServiceConfig, user_id: int, now: datetime) -> datetime | None:
    """Until when (UTC) the user may not be sent a new code nor try one sent before, or None.

    The rule counts wrong tries, not failed codes: the wrong tries on every code of theirs
    (payments' and mandates', however it ended: failed, expired, cancelled, superseded, verified or
    still pending) sent within `step_up_lock_window` add up; at `step_up_lock_failures` *
    `step_up_max_attempts` they are locked out until the code that reached that sum is that old
    (from that very moment on they are free again: the window excludes it).
    So cancelling before the last try, or starting a new offer, buys no extra guesses.
    """
    cap, window = config.step_up_lock_failures, config.step_up_lock_window
    if cap <= 0 or window <= timedelta(0):
        return None
    most = cap * max(1, config.step_up_max_attempts)
    rows = session.execute(
        select(StepUpChallenge.created_at, StepUpChallenge.attempts)
        .where(
            StepUpChallenge.user_id == user_id,
            StepUpChallenge.attempts > 0,
            StepUpChallenge.created_at > now - window,  # at `until` itself the user is free again
        )
        .order_by(StepUpChallenge.created_at.desc(), StepUpChallenge.id.desc())
    ).all()
    wrong = 0
    for created_at, attempts in rows:
        wrong += attempts
        if wrong >= most:
            return _aware(created_at) + window
    return None


def unverified(code_status: str | None) -> bool:
    """True for the status of a payment's one-time code that was never verified (None: it has none)."""
    return code_status is not None and code_status != StepUpStatus.VERIFIED.value


def close_on_cancel(session: Session, payment_id: int, now: datetime) -> None:
    """The payment was cancelled: its pending code (if any) is closed and never delivered."""
    session.execute(
        update(StepUpChallenge)
        .where(StepUpChallenge.payment_id == payment_id, StepUpChallenge.status == StepUpStatus.PENDING.value)
        .values(status=StepUpStatus.CANCELLED.value, closed_at=now, code_sealed=None)
        .execution_options(synchronize_session=False)
    )
    _drop_undelivered_code(session, payment_id, now)


def _drop_undelivered_code(session: Session, payment_id: int, now: datetime) -> None:
    """A closed code's message not yet delivered is never sent (marked done without sending)."""
    session.execute(
        update(Notification)
        .where(
            Notification.payment_id == payment_id,
            Notification.kind == NotificationKind.STEP_UP_CODE.value,
            Notification.sent_at.is_(None),
        )
        .values(sent_at=now)
        .execution_options(synchronize_session=False)
    )


def _challenge_of(session: Session, payment_id: int) -> StepUpChallenge | None:
    return session.execute(
        select(StepUpChallenge)
        .where(StepUpChallenge.payment_id == payment_id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _pending_of(session: Session, user_id: int, payment_id: int | None) -> StepUpChallenge | None:
    query = select(StepUpChallenge).where(
        StepUpChallenge.user_id == user_id, StepUpChallenge.status == StepUpStatus.PENDING.value
    )
    if payment_id is not None:
        query = query.where(StepUpChallenge.payment_id == payment_id)
    else:  # the user's latest payment code (a mandate's is checked by payments.mandate_step_up)
        query = query.where(StepUpChallenge.payment_id.is_not(None))
    return session.execute(
        query.order_by(StepUpChallenge.id.desc()).limit(1).execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _verified_or_raise(
    found: CheckResult | None, left: int, kept: VerifiedConsent, until: LocalMoment | None
) -> VerifiedConsent:
    """After the commit: the consent to approve with, or the error for what the check found."""
    if found == CheckResult.VERIFIED:
        return kept
    if found == CheckResult.LOCKED:
        reasons = [StepUpReason.TOO_MANY_FAILED_CODES.value]
        raise StepUpLockedError(payment_id=kept.payment_id, reasons=reasons, until=until)
    if found == CheckResult.WRONG:
        raise StepUpCodeWrongError(payment_id=kept.payment_id, attempts_left=left)
    if found == CheckResult.FAILED:
        raise StepUpFailedError(payment_id=kept.payment_id)
    if found == CheckResult.EXPIRED:
        raise StepUpExpiredError(payment_id=kept.payment_id)
    raise StepUpNotPendingError(payment_id=kept.payment_id)


def _aware(moment: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite hands back naive ones)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
