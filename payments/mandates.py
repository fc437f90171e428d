"""Standing mandates (autopay): the user's signed permission to pay one biller's bills by themselves.

A mandate names the user, the biller, the card, a per-payment cap and a budget per calendar month
(the user's zone), both in integer minor units of the biller's currency, and an expiry day
(inclusive, the user's day). It starts as an offer: `propose` records the terms and the summary the
edge worded for them (`MandateTerms` → text), with a one-time nonce for its Confirm and Cancel
buttons; only `confirm` with that nonce and the exact text makes it active, and keeps the user's
signed consent (HMAC-SHA256 over the terms, summary and confirmation, its SHA-256 chained into the
audit log) like a payment's consent receipt; terms that can move a large amount only once the
user's one-time code is verified (payments.mandate_step_up). A change (cap, budget, expiry) is a
new offer and a new consent; pausing, resuming and revoking (by the user or by staff, with who and why) are
compare-and-set moves, each audited. The worker's side (bills that arrive, budgets) is
payments.autopay.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db.models import Biller, Mandate, MandateConsent, Payment, SavedPaymentMethod, User
from payments.audit import append_audit
from payments.billers import match_biller
from payments.config import ServiceConfig
from payments.consent import mandate_consent_message
from payments.consent import verify_mandate_consent as verify_mandate_consent  # re-exported
from payments.dates import first_of_next_month, format_day, month_end, parse_pay_date, today_in
from payments.errors import ConsentMismatchError, PaymentsError
from payments.ledger import RESERVING_VALUES, candidate, default_card, match_user_biller
from payments.machine import StateMachine
from payments.mandate_guard import withdraw_unauthorised
from payments.mandate_step_up import MandateCodePending, MandateCodes, cancel_codes, raise_for
from payments.money import Money, format_money, parse_amount
from payments.statuses import LIVE as LIVE  # re-exported
from payments.statuses import MandateStatus as MandateStatus  # re-exported
from payments.step_up import CheckResult
from payments.unit_of_work import UnitOfWork, lock_user, rowcount

# How far ahead an expiry may lie, and the term of a mandate the user gave no end for.
MAX_TERM_DAYS = 3 * 366
DEFAULT_TERM_DAYS = 365


# --- errors (codes; the words are `utter_error_<code>` at the edge) -------------------------------


class MandateNotFoundError(PaymentsError):
    """No live mandate of this user matches (a missing or someone else's looks the same)."""

    code = "mandate_not_found"


class MandateExistsError(PaymentsError):
    """The user already has a live mandate for this biller: change it instead (`biller`)."""

    code = "mandate_exists"


class MandateOfferStaleError(PaymentsError):
    """The mandate summary acted on is not the live offer (closed, superseded, expired, foreign)."""

    code = "mandate_offer_stale"


class MandateNotChangeableError(PaymentsError):
    """The move does not apply in the mandate's state (`status`): pausing a paused one, a revoked one."""

    code = "mandate_not_changeable"


class MandateBudgetBelowCapError(PaymentsError):
    """A monthly budget below the per-payment cap (`cap`, `budget`)."""

    code = "mandate_budget_below_cap"


# --- values --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MandateTerms:
    """The terms an offer shows, typed and formatted for the user's locale (the edge words them)."""

    biller_name: str
    cap: Money
    budget: Money
    cap_text: str
    budget_text: str
    expires_on: date
    expires_text: str
    card_brand: str
    card_last4: str
    is_change: bool


@dataclass(frozen=True)
class MandateOffer:
    """A mandate summary waiting for Confirm/Cancel: its buttons carry `offer_id` and `nonce`."""

    mandate_id: int
    offer_id: int
    nonce: str
    summary_text: str
    terms: MandateTerms


@dataclass(frozen=True)
class MandateView:
    """One mandate as stored, with what it spent in the user's current calendar month."""

    id: int
    user_id: int
    biller_name: str
    status: MandateStatus
    cap: Money
    budget: Money
    spent_this_month: Money
    cap_text: str
    budget_text: str
    spent_text: str
    expires_on: date
    expires_text: str
    card_brand: str
    card_last4: str
    consent_id: int | None
    created_at: datetime
    # Set when Confirm needs the user's one-time code first (payments.mandate_step_up): the offer
    # stays unsigned (`status` unchanged) until `verify_code`.
    code_pending: MandateCodePending | None = None


MandateRenderer = Callable[[MandateTerms], str]


def mandate_terms_line(terms: MandateTerms) -> str:
    """The terms as a list of values, no sentence: what an offer keeps when no edge renders it."""
    card = f"{terms.card_brand.capitalize()} •••• {terms.card_last4}"
    return f"{terms.biller_name} · {terms.cap_text} · {terms.budget_text} · {card} · {terms.expires_text}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def spent_in_month(session: Session, mandate: Mandate, day: date) -> int:
    """Minor units the mandate's payments reserve (consented, in flight or paid) in `day`'s month."""
    first = day.replace(day=1)
    total = session.execute(
        select(func.coalesce(func.sum(Payment.amount_minor), 0)).where(
            Payment.mandate_id == mandate.id,
            Payment.status.in_(RESERVING_VALUES),
            Payment.pay_on >= first,
            Payment.pay_on < first_of_next_month(day),
        )
    ).scalar_one()
    return int(total)


def expiry_day(text: str | None, *, timezone: str, now: datetime) -> date:
    """The last day (inclusive) the user means: a month named without a day means its last day, the
    next one ("until June", "Juni", "June 2027", "end of next June", payments.dates.month_end);
    no text: a year from today. DateInPastError / DateTooFarError / DateInvalidError otherwise."""
    if not text or not text.strip():
        return today_in(timezone, now) + timedelta(days=DEFAULT_TERM_DAYS)
    month = month_end(text, timezone=timezone, now=now, horizon_days=MAX_TERM_DAYS)
    if month is not None:
        return month
    return parse_pay_date(text, timezone=timezone, now=now, horizon_days=MAX_TERM_DAYS)


def close_open_offers(session: Session, user_id: int, reason: str, now: datetime) -> None:
    """Withdraw the user's open offers (`reason`: superseded, cancelled); a proposed mandate whose
    offer goes is cancelled. The caller holds the user's row lock (`lock_user`)."""
    open_ids = select(MandateConsent.mandate_id).where(
        MandateConsent.user_id == user_id, MandateConsent.closed_at.is_(None)
    )
    offers = select(MandateConsent.id).where(
        MandateConsent.user_id == user_id, MandateConsent.closed_at.is_(None)
    )
    cancel_codes(session, list(session.execute(offers).scalars()), now)  # their pending codes, if any
    session.execute(
        update(Mandate)
        .where(Mandate.id.in_(open_ids), Mandate.status == MandateStatus.PROPOSED.value)
        .values(status=MandateStatus.CANCELLED.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(MandateConsent)
        .where(MandateConsent.user_id == user_id, MandateConsent.closed_at.is_(None))
        .values(closed_at=now, closed_reason=reason)
        .execution_options(synchronize_session=False)
    )


class Mandates:
    """Offer, confirm, list, pause, resume, change and revoke standing mandates."""

    def __init__(self, uow: UnitOfWork, config: ServiceConfig, machine: StateMachine) -> None:
        self._uow = uow
        self._config = config
        self._machine = machine
        self.codes = MandateCodes(uow, config, machine)

    # --- offers ------------------------------------------------------------------------------

    def propose(
        self, *, user_id: int, biller_text: str, cap_text: str, expiry_text: str | None = None,
        budget_text: str | None = None, render: MandateRenderer = mandate_terms_line,
    ) -> MandateOffer:  # fmt: skip
        """Offer a new mandate for the biller `biller_text` names: cap (and budget, default the cap)
        in the biller's currency, until `expiry_text`. MandateExistsError when one is live already;
        amount, date, biller and card errors as when drafting a payment."""
        with self._uow.tx() as session:
            user = lock_user(session, user_id)  # closes older offers: as the code's check
            biller = match_user_biller(session, user_id, biller_text)
            if self._live(session, user_id, biller.id) is not None:
                raise MandateExistsError(biller=biller.name)
            card = default_card(session, user_id)
            now = self._uow.now()
            cap = parse_amount(cap_text, currency=biller.currency, locale=user.locale)
            budget = self._budget(user, cap, budget_text, default=cap)
            expires = expiry_day(expiry_text, timezone=user.timezone, now=now)
            mandate = Mandate(
                user_id=user_id, biller_id=biller.id, payment_method_id=card.id, cap_minor=cap.amount_minor,
                budget_minor=budget.amount_minor, currency=cap.currency, expires_on=expires,
                status=MandateStatus.PROPOSED.value, created_at=now, updated_at=now,
            )  # fmt: skip
            session.add(mandate)
            session.flush()
            return self._offer(
                session, user, mandate, biller, card, cap, budget, expires, render, change=False
            )

    def propose_change(
        self, *, user_id: int, biller_text: str, cap_text: str | None = None,
        budget_text: str | None = None, expiry_text: str | None = None,
        render: MandateRenderer = mandate_terms_line,
    ) -> MandateOffer:  # fmt: skip
        """Offer new terms for the user's live mandate of that biller; what is not named stays (the
        budget follows a new cap when not named). Confirming it is a new consent."""
        with self._uow.tx() as session:
            user = lock_user(session, user_id)  # closes older offers: as the code's check
            mandate, biller = self._named(session, user_id, biller_text)
            card = default_card(session, user_id)
            now = self._uow.now()
            cap = Money(mandate.cap_minor, mandate.currency)
            if cap_text and cap_text.strip():
                cap = parse_amount(cap_text, currency=mandate.currency, locale=user.locale)
            default = cap if cap_text else Money(mandate.budget_minor, mandate.currency)
            budget = self._budget(user, cap, budget_text, default=default)
            expires = mandate.expires_on
            if expiry_text and expiry_text.strip():
                expires = expiry_day(expiry_text, timezone=user.timezone, now=now)
            return self._offer(
                session, user, mandate, biller, card, cap, budget, expires, render, change=True
            )

    @staticmethod
    def _budget(user: User, cap: Money, budget_text: str | None, *, default: Money) -> Money:
        budget = default
        if budget_text and budget_text.strip():
            budget = parse_amount(budget_text, currency=cap.currency, locale=user.locale)
        if budget.amount_minor < cap.amount_minor:
            raise MandateBudgetBelowCapError(
                cap=format_money(cap, user.locale), budget=format_money(budget, user.locale)
            )
        return budget

    def _offer(
        self, session: Session, user: User, mandate: Mandate, biller: Biller, card: SavedPaymentMethod,
        cap: Money, budget: Money, expires: date, render: MandateRenderer, *, change: bool,
    ) -> MandateOffer:  # fmt: skip
        """Close the user's older offers, record this one with its rendered summary and a nonce."""
        now = self._uow.now()
        close_open_offers(session, user.id, "superseded", now)
        terms = MandateTerms(
            biller_name=biller.name, cap=cap, budget=budget, cap_text=format_money(cap, user.locale),
            budget_text=format_money(budget, user.locale), expires_on=expires,
            expires_text=format_day(expires, user.locale), card_brand=card.brand, card_last4=card.last4,
            is_change=change,
        )  # fmt: skip
        summary = render(terms)
        nonce = secrets.token_urlsafe(12)
        offer = MandateConsent(
            mandate_id=mandate.id, user_id=user.id, payment_method_id=card.id, cap_minor=cap.amount_minor,
            budget_minor=budget.amount_minor, currency=cap.currency, expires_on=expires, summary_text=summary,
            nonce_sha256=_digest(nonce), offered_at=now,
        )  # fmt: skip
        session.add(offer)
        session.flush()
        return MandateOffer(
            mandate_id=mandate.id, offer_id=offer.id, nonce=nonce, summary_text=summary, terms=terms
        )

    def confirm(
        self, *, user_id: int, offer_id: int, nonce: str | None, shown_text: str, confirmation: str = ""
    ) -> MandateView:
        """Make the live offer the mandate's terms with the user's signed consent (once).

        A tap names the offer and carries its nonce; typed words (no nonce) mean the user's newest
        offer, and only while it is still open.

        MandateOfferStaleError for an offer that is closed, too old, someone else's or whose nonce
        does not match; ConsentMismatchError when `shown_text` is not the summary offered;
        MandateExistsError when another mandate for the biller went live meanwhile.
        Terms that can move a large amount need the user's one-time code first
        (payments.mandate_step_up): the view's `code_pending` says so and the offer stays open;
        MandateStepUpLockedError / MandateStepUpExpiredError (the offer withdrawn) otherwise.
        """
        with self._uow.tx() as session:
            user = lock_user(session, user_id)
            offer = self._live_offer(session, user_id, offer_id, nonce)
            if not hmac.compare_digest(_digest(shown_text), _digest(offer.summary_text)):
                raise ConsentMismatchError(mandate_id=offer.mandate_id)
            mandate = self._signable(session, offer)
            gate = self.codes.gate(session, offer, mandate, user, confirmation.strip() or "confirm")
            if gate is None:
                return self._make_live(session, offer, mandate, user, confirmation.strip() or "confirm")
            if isinstance(gate, MandateCodePending):
                return replace(self._view(session, mandate, user), code_pending=gate)
        raise gate

    def verify_code(self, *, user_id: int, code_text: str) -> MandateView | None:
        """Check the code the user typed when their latest pending code is a mandate offer's (None
        otherwise: it is a payment's, or none waits); verified, the offer is signed and live.
        MandateStepUpCodeWrongError / ...FailedError / ...ExpiredError (counted and committed first)."""
        with self._uow.tx() as session:
            user = lock_user(session, user_id)
            check = self.codes.check(session, user_id, code_text)
            if check is None:
                return None
            if check.result == CheckResult.VERIFIED:
                offer = session.get(MandateConsent, check.offer_id, populate_existing=True)
                assert offer is not None
                mandate = self._signable(session, offer)
                return self._make_live(session, offer, mandate, user, check.confirmation)
        raise_for(check)
        return None

    def _signable(self, session: Session, offer: MandateConsent) -> Mandate:
        """The offer's mandate, when its terms may still be signed (MandateExistsError,
        MandateNotChangeableError otherwise)."""
        mandate = session.get(Mandate, offer.mandate_id, populate_existing=True)
        assert mandate is not None
        if mandate.status == MandateStatus.PROPOSED.value:
            other = self._live(session, offer.user_id, mandate.biller_id)
            if other is not None:
                biller = session.get(Biller, mandate.biller_id)
                raise MandateExistsError(biller=biller.name if biller is not None else "")
        elif mandate.status not in LIVE:
            raise MandateNotChangeableError(status=mandate.status)
        return mandate

    def _make_live(
        self, session: Session, offer: MandateConsent, mandate: Mandate, user: User, confirmation: str
    ) -> MandateView:
        """Close the offer as confirmed (once) and sign it: the mandate's terms from now on."""
        closed = session.execute(
            update(MandateConsent)
            .where(MandateConsent.id == offer.id, MandateConsent.closed_at.is_(None))
            .values(closed_at=self._uow.now(), closed_reason="confirmed")
            .execution_options(synchronize_session=False)
        )
        if rowcount(closed) != 1:
            raise MandateOfferStaleError(offer_id=offer.id)
        biller = session.get(Biller, mandate.biller_id)
        assert biller is not None
        self._sign(session, offer, mandate, biller, user, confirmation)
        return self._view(session, mandate, user)

    def _sign(
        self, session: Session, offer: MandateConsent, mandate: Mandate, biller: Biller, user: User,
        confirmation: str,
    ) -> None:  # fmt: skip
        """Sign the consent, apply its terms to the mandate and chain its hash into the audit log."""
        now = self._uow.now()
        offer.confirmation = confirmation
        message = mandate_consent_message(offer, biller=biller.name)
        offer.signature = hmac.new(self._config.consent_signing_key, message, hashlib.sha256).hexdigest()
        offer.receipt_hash = hashlib.sha256(message).hexdigest()
        was = mandate.status
        for column in ("payment_method_id", "cap_minor", "budget_minor", "currency", "expires_on"):
            setattr(mandate, column, getattr(offer, column))
        mandate.consent_id = offer.id
        mandate.updated_at = now
        if was == MandateStatus.PROPOSED.value:
            mandate.status = MandateStatus.ACTIVE.value
            mandate.active_since = now
        session.flush()
        withdraw_unauthorised(session, self._machine, mandate.id, now)  # a cap lowered below a held one
        append_audit(
            session, event="mandate.consented", user_id=user.id, from_status=was, to_status=mandate.status,
            data={
                "mandate_id": mandate.id, "consent_id": offer.id, "receipt_sha256": offer.receipt_hash,
                "cap_minor": offer.cap_minor, "budget_minor": offer.budget_minor, "currency": offer.currency,
                "expires_on": offer.expires_on.isoformat(),
            },
        )  # fmt: skip

    def cancel_offer(self, *, user_id: int, offer_id: int, nonce: str | None) -> None:
        """Withdraw the live offer whose Cancel was tapped (a new mandate is then cancelled). Under
        the user's lock, as the code's check: a code verified meanwhile made the offer stale."""
        with self._uow.tx() as session:
            lock_user(session, user_id)
            offer = self._live_offer(session, user_id, offer_id, nonce)
            now = self._uow.now()
            cancel_codes(session, [offer.id], now)
            offer.closed_at, offer.closed_reason = now, "cancelled"
            session.execute(
                update(Mandate)
                .where(Mandate.id == offer.mandate_id, Mandate.status == MandateStatus.PROPOSED.value)
                .values(status=MandateStatus.CANCELLED.value, updated_at=now)
                .execution_options(synchronize_session=False)
            )

    def _live_offer(self, session: Session, user_id: int, offer_id: int, nonce: str | None) -> MandateConsent:
        """The offer a tap names (`offer_id` with its nonce), or for typed words (no nonce) the user's
        newest offer — only when it is `offer_id`, if given (a code form's offer); MandateOfferStaleError
        unless it is open, fresh and theirs."""
        if not nonce:
            offer = session.execute(
                select(MandateConsent)
                .where(MandateConsent.user_id == user_id)
                .order_by(MandateConsent.id.desc())
                .limit(1)
                .execution_options(populate_existing=True)
            ).scalar_one_or_none()
        else:
            offer = session.get(MandateConsent, offer_id, populate_existing=True)
        fresh = offer is not None and _aware(offer.offered_at) + self._config.draft_expiry > self._uow.now()
        if (
            offer is None
            or offer.user_id != user_id
            or (nonce and not hmac.compare_digest(offer.nonce_sha256, _digest(nonce)))
            or (not nonce and offer_id and offer.id != offer_id)
            or offer.closed_at is not None
            or not fresh
        ):
            raise MandateOfferStaleError(offer_id=offer_id)
        return offer

    # --- the user's mandates -----------------------------------------------------------------

    def list_mandates(
        self, *, user_id: int | None = None, include_ended: bool = False, include_awaiting_code: bool = False
    ) -> list[MandateView]:
        """The user's mandates (every user's for staff when None), live ones first; ended ones
        (revoked, expired) only with `include_ended`; with `include_awaiting_code` (staff), offers
        waiting for the user's one-time code too (`code_pending` set, new or a change)."""
        shown = [*LIVE] + (
            [MandateStatus.REVOKED.value, MandateStatus.EXPIRED.value] if include_ended else []
        )
        with self._uow.tx() as session:
            proposed = [MandateStatus.PROPOSED.value] if include_awaiting_code else []
            query = select(Mandate).where(Mandate.status.in_(shown + proposed)).order_by(Mandate.id)
            if user_id is not None:
                query = query.where(Mandate.user_id == user_id)
            views = []
            for mandate in session.execute(query).scalars():
                user = session.get(User, mandate.user_id)
                assert user is not None
                pending = self.codes.pending_of(session, mandate, user) if include_awaiting_code else None
                if mandate.status in shown or pending is not None:
                    views.append(replace(self._view(session, mandate, user), code_pending=pending))
            return sorted(views, key=lambda view: view.status not in LIVE)

    def pause(self, *, user_id: int, biller_text: str) -> MandateView:
        """Pause the user's live mandate for that biller: its bills are asked about, not paid."""
        return self._move_named(user_id, biller_text, MandateStatus.ACTIVE, MandateStatus.PAUSED)

    def resume(self, *, user_id: int, biller_text: str) -> MandateView:
        """Resume the user's paused mandate for that biller (not past its expiry)."""
        return self._move_named(user_id, biller_text, MandateStatus.PAUSED, MandateStatus.ACTIVE)

    def revoke(self, *, user_id: int, biller_text: str) -> MandateView:
        """Revoke the user's live mandate for that biller for good: nothing more is paid under it."""
        return self._move_named(user_id, biller_text, None, MandateStatus.REVOKED)

    def _move_named(
        self, user_id: int, biller_text: str, expected: MandateStatus | None, new: MandateStatus
    ) -> MandateView:
        with self._uow.tx() as session:
            user = lock_user(session, user_id)
            mandate, _ = self._named(session, user_id, biller_text)
            self.move(session, mandate, user, expected, new, actor="user", reason="")
            return self._view(session, mandate, user)

    def staff_move(self, *, mandate_id: int, new: MandateStatus, staff: str, reason: str) -> MandateView:
        """Staff pause, resume or revoke a mandate, audited with who and why."""
        expected = {MandateStatus.PAUSED: MandateStatus.ACTIVE, MandateStatus.ACTIVE: MandateStatus.PAUSED}
        if new not in (*expected, MandateStatus.REVOKED):
            raise MandateNotChangeableError(status=new.value)
        with self._uow.tx() as session:
            mandate = session.get(Mandate, mandate_id)
            if mandate is None or mandate.status not in LIVE:
                raise MandateNotFoundError(mandate_id=mandate_id)
            user = lock_user(session, mandate.user_id)
            self.move(session, mandate, user, expected.get(new), new, actor=f"staff:{staff}", reason=reason)
            return self._view(session, mandate, user)

    def move(
        self, session: Session, mandate: Mandate, user: User, expected: MandateStatus | None,
        new: MandateStatus, *, actor: str, reason: str,
    ) -> None:  # fmt: skip
        """One compare-and-set of a live mandate's status (from `expected`, or from any live one),
        audited when it wins; MandateNotChangeableError otherwise (resuming one past its expiry too:
        the worker expires it)."""
        was = mandate.status
        if new == MandateStatus.ACTIVE and mandate.expires_on < today_in(user.timezone, self._uow.now()):
            raise MandateNotChangeableError(status=MandateStatus.EXPIRED.value)
        allowed = [expected.value] if expected is not None else list(LIVE)
        result = session.execute(
            update(Mandate)
            .where(Mandate.id == mandate.id, Mandate.status.in_(allowed))
            .values(status=new.value, updated_at=self._uow.now())
            .execution_options(synchronize_session=False)
        )
        if rowcount(result) != 1:
            raise MandateNotChangeableError(status=was)
        session.refresh(mandate)
        append_audit(
            session, event=f"mandate.{new.value}", user_id=mandate.user_id, from_status=was,
            to_status=new.value,
            data={"mandate_id": mandate.id, "actor": actor, **({"reason": reason} if reason else {})},
        )  # fmt: skip
        withdraw_unauthorised(session, self._machine, mandate.id, self._uow.now())

    @staticmethod
    def _live(session: Session, user_id: int, biller_id: int) -> Mandate | None:
        return session.execute(
            select(Mandate).where(
                Mandate.user_id == user_id, Mandate.biller_id == biller_id, Mandate.status.in_(LIVE)
            )
        ).scalar_one_or_none()

    @staticmethod
    def _named(session: Session, user_id: int, biller_text: str) -> tuple[Mandate, Biller]:
        """The user's live mandate for the biller `biller_text` names; MandateNotFoundError otherwise."""
        rows = session.execute(
            select(Mandate, Biller)
            .join(Biller, Mandate.biller_id == Biller.id)
            .where(Mandate.user_id == user_id, Mandate.status.in_(LIVE))
        ).all()
        if not rows:
            raise MandateNotFoundError(biller=biller_text)
        if not biller_text.strip() and len(rows) == 1:
            return rows[0][0], rows[0][1]
        try:
            chosen = match_biller(biller_text, [candidate(biller) for _, biller in rows])
        except PaymentsError as error:
            raise MandateNotFoundError(biller=biller_text) from error
        mandate, biller = next((m, b) for m, b in rows if b.id == chosen.biller_id)
        return mandate, biller

    def _view(self, session: Session, mandate: Mandate, user: User) -> MandateView:
        biller = session.get(Biller, mandate.biller_id)
        card = session.get(SavedPaymentMethod, mandate.payment_method_id)
        assert biller is not None and card is not None
        spent = Money(
            spent_in_month(session, mandate, today_in(user.timezone, self._uow.now())), mandate.currency
        )
        cap, budget = (
            Money(mandate.cap_minor, mandate.currency),
            Money(mandate.budget_minor, mandate.currency),
        )
        return MandateView(
            id=mandate.id, user_id=mandate.user_id, biller_name=biller.name,
            status=MandateStatus(mandate.status), cap=cap, budget=budget, spent_this_month=spent,
            cap_text=format_money(cap, user.locale),
            budget_text=format_money(budget, user.locale), spent_text=format_money(spent, user.locale),
            expires_on=mandate.expires_on, expires_text=format_day(mandate.expires_on, user.locale),
            card_brand=card.brand, card_last4=card.last4, consent_id=mandate.consent_id,
            created_at=mandate.created_at,
        )  # fmt: skip


def _aware(moment: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite hands back naive ones)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
