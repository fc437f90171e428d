"""Step-up for standing mandates: a mandate that can move a large amount needs the user's code.

The rule (`code_reasons`, here only): with `ServiceConfig.step_up_minor` > 0, confirming a mandate
offer whose monthly budget (the most it may move, >= its cap) is at or over the threshold needs the
user's one-time code when it creates a mandate, or when it widens a live one (a higher cap or
budget, a later expiry, another card). A change that only narrows needs none. A user locked out of
codes (too many failed lately, `step_up.locked_until`) is refused as for a payment: no new code,
and no try at a code sent before (the offer withdrawn).

The code is the payments' (payments.step_up: 6 digits, HMAC-SHA256 under the server key, here
bound to the offer — `mandate_code_hash` — so a payment's code never fits a mandate's and back;
sealed until the outbox delivered it; `step_up_ttl`, `step_up_max_attempts`, constant-time
compare). Its message is an outbox row naming the challenge (`notifications.step_up_challenge_id`).
While the code is pending the offer stays open and unsigned; verified, payments.mandates signs it;
failed or expired, the offer is closed and a proposed mandate cancelled. Every step is audited,
never the code.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import Biller, Mandate, MandateConsent, Notification, StepUpChallenge, User
from payments.audit import append_audit
from payments.config import ServiceConfig
from payments.dates import LocalMoment, local_moment
from payments.errors import StepUpCodeWrongError, StepUpExpiredError, StepUpFailedError, StepUpLockedError
from payments.machine import StateMachine
from payments.money import Money, format_money
from payments.statuses import MandateStatus, NotificationKind, StepUpReason, StepUpStatus
from payments.step_up import CheckResult, code_in, fail_payment_codes, locked_until, new_code, tally_try
from payments.unit_of_work import UnitOfWork, rowcount


class MandateStepUpLockedError(StepUpLockedError):
    """A mandate that needs a code, refused: the user failed too many codes lately (`until`)."""

    code = "mandate_step_up_locked"


class MandateStepUpCodeWrongError(StepUpCodeWrongError):
    """The code typed for a mandate is not the one sent; `attempts_left` more tries."""

    code = "mandate_step_up_code_wrong"


class MandateStepUpFailedError(StepUpFailedError):
    """A mandate's code was typed wrong too many times: the offer was withdrawn, nothing set up."""

    code = "mandate_step_up_failed"


class MandateStepUpExpiredError(StepUpExpiredError):
    """A mandate's code expired before it was typed: the offer was withdrawn, nothing set up."""

    code = "mandate_step_up_expired"


@dataclass(frozen=True)
class MandateCodePending:
    """A mandate offer waiting for the user's one-time code (sent as a separate message)."""

    mandate_id: int
    offer_id: int
    biller_name: str
    cap: Money
    budget: Money
    cap_text: str
    budget_text: str
    reasons: tuple[str, ...]  # StepUpReason values, worded at the edge
    expires_at: LocalMoment
    attempts_left: int
    is_change: bool


@dataclass(frozen=True)
class CodeCheck:
    """One typed code checked against the user's latest pending mandate code (committed first)."""

    result: CheckResult
    attempts_left: int
    offer_id: int
    mandate_id: int
    confirmation: str
    until: LocalMoment | None = None  # LOCKED: the user may try again then


def mandate_code_hash(key: bytes, consent_id: int, code: str) -> str:
    """HMAC-SHA256 of the code bound to one mandate offer (never the payments' `payment_id:code`)."""
    return hmac.new(key, b"mandate_consent:%d:%s" % (consent_id, code.encode()), hashlib.sha256).hexdigest()


def code_reasons(config: ServiceConfig, offer: MandateConsent, mandate: Mandate) -> tuple[str, ...]:
    """Why confirming `offer` needs the user's code (empty: it does not) — the rule, once."""
    threshold = config.step_up_minor
    if threshold <= 0 or offer.budget_minor < threshold:
        return ()
    if mandate.status == MandateStatus.PROPOSED.value:
        return (StepUpReason.LARGE_AMOUNT.value,)
    widens = (
        offer.cap_minor > mandate.cap_minor
        or offer.budget_minor > mandate.budget_minor
        or offer.expires_on > mandate.expires_on
        or offer.payment_method_id != mandate.payment_method_id
    )
    return (StepUpReason.LARGE_AMOUNT.value,) if widens else ()


class MandateCodes:
    """One-time codes for mandate offers: issue (at Confirm), check, close and expire them."""

    def __init__(self, uow: UnitOfWork, config: ServiceConfig, machine: StateMachine) -> None:
        self._uow = uow
        self._config = config
        self._machine = machine  # to cancel the user's payment drafts when their tries reach the lock

    def gate(
        self, session: Session, offer: MandateConsent, mandate: Mandate, user: User, confirmation: str
    ) -> MandateCodePending | MandateStepUpError | None:
        """At Confirm, under the user's lock: None when the offer may be signed now; the pending code
        (issued now, or the one already sent: a second tap sends no second code); or the error to
        raise once this transaction committed (locked out, or its code expired: the offer closed)."""
        reasons = code_reasons(self._config, offer, mandate)
        if not reasons:
            return None
        now = self._uow.now()
        challenge = session.execute(
            select(StepUpChallenge)
            .where(StepUpChallenge.mandate_consent_id == offer.id)
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if challenge is not None:
            if challenge.status == StepUpStatus.PENDING.value and now < _aware(challenge.expires_at):
                return self._pending(session, challenge, offer, mandate, user, now)
            self.close(session, challenge, offer, StepUpStatus.EXPIRED, now)
            return MandateStepUpExpiredError(mandate_id=mandate.id)
        until = locked_until(session, self._config, user.id, now)
        if until is not None:
            append_audit(
                session, event="step_up.locked", user_id=user.id,
                data={"mandate_id": mandate.id, "consent_id": offer.id, "until": until.isoformat()},
            )  # fmt: skip
            _withdraw(session, offer, "step_up_locked", now)
            moment = local_moment(until, timezone=user.timezone, locale=user.locale, now=now)
            return MandateStepUpLockedError(
                mandate_id=mandate.id, reasons=[StepUpReason.TOO_MANY_FAILED_CODES.value], until=moment
            )
        challenge = self._issue(session, offer, mandate, reasons, confirmation, now)
        return self._pending(session, challenge, offer, mandate, user, now)

    def _issue(
        self, session: Session, offer: MandateConsent, mandate: Mandate, reasons: tuple[str, ...],
        confirmation: str, now: datetime,
    ) -> StepUpChallenge:  # fmt: skip
        code = new_code()
        challenge = StepUpChallenge(
            mandate_consent_id=offer.id, user_id=offer.user_id,
            code_hash=mandate_code_hash(self._config.step_up_key, offer.id, code),
            code_sealed=code,  # encrypted at rest by the column type; cleared once delivered
            reasons=list(reasons), status=StepUpStatus.PENDING.value, attempts=0, created_at=now,
            expires_at=now + self._config.step_up_ttl, confirmation=confirmation,
        )  # fmt: skip
        session.add(challenge)
        session.flush()
        note = Notification(
            user_id=offer.user_id, step_up_challenge_id=challenge.id,
            kind=NotificationKind.STEP_UP_CODE.value, created_at=now,
        )  # fmt: skip
        session.add(note)
        append_audit(
            session, event="step_up.issued", user_id=offer.user_id,
            data={
                "mandate_id": mandate.id, "consent_id": offer.id, "reasons": list(reasons),
                "expires_at": challenge.expires_at.isoformat(),
            },
        )  # fmt: skip
        return challenge

    def _pending(
        self, session: Session, challenge: StepUpChallenge, offer: MandateConsent, mandate: Mandate,
        user: User, now: datetime,
    ) -> MandateCodePending:  # fmt: skip
        biller = session.get(Biller, mandate.biller_id)
        assert biller is not None
        cap, budget = Money(offer.cap_minor, offer.currency), Money(offer.budget_minor, offer.currency)
        return MandateCodePending(
            mandate_id=mandate.id, offer_id=offer.id, biller_name=biller.name, cap=cap, budget=budget,
            cap_text=format_money(cap, user.locale), budget_text=format_money(budget, user.locale),
            reasons=tuple(challenge.reasons or ()),
            expires_at=local_moment(
                _aware(challenge.expires_at), timezone=user.timezone, locale=user.locale, now=now
            ),
            attempts_left=max(0, self._config.step_up_max_attempts - challenge.attempts),
            is_change=mandate.status != MandateStatus.PROPOSED.value,
        )  # fmt: skip

    def pending_of(self, session: Session, mandate: Mandate, user: User) -> MandateCodePending | None:
        """The mandate's offer waiting for the user's code (not yet expired), or None."""
        now = self._uow.now()
        row = session.execute(
            select(StepUpChallenge, MandateConsent)
            .join(MandateConsent, StepUpChallenge.mandate_consent_id == MandateConsent.id)
            .where(
                MandateConsent.mandate_id == mandate.id,
                StepUpChallenge.status == StepUpStatus.PENDING.value,
                StepUpChallenge.expires_at > now,
            )
        ).first()
        return None if row is None else self._pending(session, row[0], row[1], mandate, user, now)

    def check(self, session: Session, user_id: int, code_text: str) -> CodeCheck | None:
        """One try of `code_text` against the user's latest pending code when it is a mandate's
        (None when it is a payment's or there is none); counted, audited, closed as it ends."""
        challenge = session.execute(
            select(StepUpChallenge)
            .where(StepUpChallenge.user_id == user_id, StepUpChallenge.status == StepUpStatus.PENDING.value)
            .order_by(StepUpChallenge.id.desc())
            .limit(1)
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if challenge is None or challenge.mandate_consent_id is None:
            return None
        offer = session.get(MandateConsent, challenge.mandate_consent_id, populate_existing=True)
        assert offer is not None
        now = self._uow.now()
        result, left, until = self._try(session, challenge, offer, code_text, now)
        user = session.get(User, user_id)
        assert user is not None
        moment = None
        if result == CheckResult.LOCKED and until is not None:
            moment = local_moment(until, timezone=user.timezone, locale=user.locale, now=now)
        confirmation = challenge.confirmation or "confirm"
        return CodeCheck(result, left, offer.id, offer.mandate_id, confirmation, moment)

    def _try(
        self, session: Session, challenge: StepUpChallenge, offer: MandateConsent, code_text: str,
        now: datetime,
    ) -> tuple[CheckResult, int, datetime | None]:  # fmt: skip
        """One try (payments.step_up.tally_try: a locked-out user refused, the code closed failed);
        the try that reaches the lock closes the user's other pending codes, payments' too."""
        if offer.closed_at is not None or now >= _aware(challenge.expires_at):
            self.close(session, challenge, offer, StepUpStatus.EXPIRED, now)
            return CheckResult.EXPIRED, 0, None
        typed = mandate_code_hash(self._config.step_up_key, offer.id, code_in(code_text) or "")
        tally = tally_try(
            session, challenge, typed, self._config, now,
            audit={
                "user_id": offer.user_id, "data": {"mandate_id": offer.mandate_id, "consent_id": offer.id}
            },
        )  # fmt: skip
        if tally.result in (CheckResult.VERIFIED, CheckResult.FAILED, CheckResult.LOCKED):
            status = StepUpStatus.VERIFIED if tally.result == CheckResult.VERIFIED else StepUpStatus.FAILED
            self.close(session, challenge, offer, status, now)
        if tally.until is not None:
            self.fail_pending(session, offer.user_id, challenge.id, now)
            fail_payment_codes(session, self._machine, offer.user_id, challenge.id, now)
        return tally.result, tally.left, tally.until

    def fail_pending(self, session: Session, user_id: int, keep_id: int, now: datetime) -> None:
        """The user's wrong tries reached the lock: their pending mandate codes but `keep_id` (the one
        just tried: its next try is refused as locked) are closed as failed (offers withdrawn,
        undelivered messages never sent; audited)."""
        pending = session.execute(
            select(StepUpChallenge, MandateConsent)
            .join(MandateConsent, StepUpChallenge.mandate_consent_id == MandateConsent.id)
            .where(
                StepUpChallenge.user_id == user_id,
                StepUpChallenge.status == StepUpStatus.PENDING.value,
                StepUpChallenge.id != keep_id,
            )
            .execution_options(populate_existing=True)
        ).all()
        for challenge, offer in pending:
            self.close(session, challenge, offer, StepUpStatus.FAILED, now)

    def close(
        self, session: Session, challenge: StepUpChallenge, offer: MandateConsent, status: StepUpStatus,
        now: datetime,
    ) -> bool:  # fmt: skip
        """Close a pending code (its undelivered message never sent); failed or expired, the offer is
        withdrawn and a proposed mandate cancelled. Audited. False when it was no longer pending."""
        won = session.execute(
            update(StepUpChallenge)
            .where(StepUpChallenge.id == challenge.id, StepUpChallenge.status == StepUpStatus.PENDING.value)
            .values(status=status.value, closed_at=now, code_sealed=None)
            .execution_options(synchronize_session=False)
        )
        if rowcount(won) != 1:
            return False
        _drop_undelivered(session, [challenge.id], now)
        append_audit(
            session, event=f"step_up.{status.value}", user_id=offer.user_id,
            data={"mandate_id": offer.mandate_id, "consent_id": offer.id, "attempts": challenge.attempts},
        )  # fmt: skip
        if status in (StepUpStatus.FAILED, StepUpStatus.EXPIRED):
            _withdraw(session, offer, f"step_up_{status.value}", now)
        return True

    def expire_codes(self) -> int:
        """The worker's round: mandate codes past their time are closed, their offers withdrawn and
        each user told (`mandate_code_expired`, naming the challenge); how many."""
        now = self._uow.now()
        with self._uow.tx() as session:
            due = session.execute(
                select(StepUpChallenge, MandateConsent)
                .join(MandateConsent, StepUpChallenge.mandate_consent_id == MandateConsent.id)
                .where(
                    StepUpChallenge.status == StepUpStatus.PENDING.value, StepUpChallenge.expires_at <= now
                )
            ).all()
            for challenge, offer in due:
                if self.close(session, challenge, offer, StepUpStatus.EXPIRED, now):
                    session.add(
                        Notification(
                            user_id=offer.user_id, step_up_challenge_id=challenge.id,
                            kind=NotificationKind.MANDATE_CODE_EXPIRED.value, created_at=now,
                        )
                    )  # fmt: skip
            return len(due)


def cancel_codes(session: Session, offer_ids: list[int], now: datetime) -> None:
    """Offers withdrawn (cancelled, superseded): their pending codes are closed, never delivered.
    Only a pending code is closed (guarded in the UPDATE): a code verified meanwhile stays verified.
    Callers hold the user's row lock (`lock_user`), as the code's check does."""
    if not offer_ids:
        return
    ids = list(
        session.execute(
            select(StepUpChallenge.id).where(
                StepUpChallenge.mandate_consent_id.in_(offer_ids),
                StepUpChallenge.status == StepUpStatus.PENDING.value,
            )
        ).scalars()
    )
    if not ids:
        return
    session.execute(
        update(StepUpChallenge)
        .where(StepUpChallenge.id.in_(ids), StepUpChallenge.status == StepUpStatus.PENDING.value)
        .values(status=StepUpStatus.CANCELLED.value, closed_at=now, code_sealed=None)
        .execution_options(synchronize_session=False)
    )
    _drop_undelivered(session, ids, now)


def close_mandate_offers(session: Session, mandate_id: int, reason: str, now: datetime) -> int:
    """The mandate left the live states (paused, revoked, expired, cancelled): its open offers (a
    change waiting for Confirm or for its code) are withdrawn and their pending codes closed, never
    delivered (audited `mandate.offer_withdrawn`); how many."""
    offers = list(
        session.execute(
            select(MandateConsent).where(
                MandateConsent.mandate_id == mandate_id, MandateConsent.closed_at.is_(None)
            )
        ).scalars()
    )
    cancel_codes(session, [offer.id for offer in offers], now)
    for offer in offers:
        _withdraw(session, offer, reason, now)
    return len(offers)


MandateStepUpError = MandateStepUpLockedError | MandateStepUpExpiredError


def raise_for(check: CodeCheck) -> None:
    """After the commit: the error for a code that did not verify."""
    if check.result == CheckResult.WRONG:
        raise MandateStepUpCodeWrongError(mandate_id=check.mandate_id, attempts_left=check.attempts_left)
    if check.result == CheckResult.FAILED:
        raise MandateStepUpFailedError(mandate_id=check.mandate_id)
    if check.result == CheckResult.EXPIRED:
        raise MandateStepUpExpiredError(mandate_id=check.mandate_id)
    if check.result == CheckResult.LOCKED:
        reasons = [StepUpReason.TOO_MANY_FAILED_CODES.value]
        raise MandateStepUpLockedError(mandate_id=check.mandate_id, reasons=reasons, until=check.until)


def _withdraw(session: Session, offer: MandateConsent, reason: str, now: datetime) -> None:
    """Close the offer (unsigned) and cancel its mandate when that was only proposed."""
    session.execute(
        update(MandateConsent)
        .where(MandateConsent.id == offer.id, MandateConsent.closed_at.is_(None))
        .values(closed_at=now, closed_reason=reason[:16])
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Mandate)
        .where(Mandate.id == offer.mandate_id, Mandate.status == MandateStatus.PROPOSED.value)
        .values(status=MandateStatus.CANCELLED.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    append_audit(
        session, event="mandate.offer_withdrawn", user_id=offer.user_id,
        data={"mandate_id": offer.mandate_id, "consent_id": offer.id, "reason": reason},
    )  # fmt: skip


def _drop_undelivered(session: Session, challenge_ids: list[int], now: datetime) -> None:
    """A closed code's message not yet delivered is never sent (marked done without sending)."""
    session.execute(
        update(Notification)
        .where(Notification.step_up_challenge_id.in_(challenge_ids), Notification.sent_at.is_(None))
        .values(sent_at=now)
        .execution_options(synchronize_session=False)
    )


def _aware(moment: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite hands back naive ones)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
