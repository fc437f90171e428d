"""Attack 22 fixes in the core: a typed confirmation confirms only a summary shown before it was
typed (`typed_at`, payments.offers.typed_before), a draft past its expiry is expired when it is acted
on (payments.drafting.past_expiry, the worker's rule), and odd strings a chat hands back are refused
with a code (payments.offers.well_formed_nonce, encodable) — for payment summaries and autopay offers.

Real database (SQLite and PostgreSQL), localstripe.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from db.models import AuditLogEntry, MandateConsent, SummaryOffer, utcnow
from payments.drafting import expiry_cutoff, past_expiry
from payments.errors import ConfirmationEarlyError, ConfirmationStaleError, ConsentMismatchError
from payments.mandates import MandateConfirmationEarlyError, MandateOfferStaleError, MandateStatus
from payments.offers import typed_before, well_formed_nonce
from payments.service import PaymentsService
from payments.views import PaymentSummary
from tests.helpers.factories import make_paying_user, unique
from tests.payments.test_confirming import _charges, _status, _summary
from tests.payments.test_mandates import _user_with_biller

pytestmark = pytest.mark.sandbox


def _issued_at(service: PaymentsService, payment_id: int) -> datetime:
    with service.session_factory() as session:
        issued = session.scalars(
            select(SummaryOffer.issued_at).where(SummaryOffer.payment_id == payment_id)
        ).one()
    return issued if issued.tzinfo else issued.replace(tzinfo=UTC)


@pytest.fixture
def live(payments_service: PaymentsService) -> tuple[int, str, PaymentSummary]:
    user_id, bills = make_paying_user(payments_service.session_factory, payments_service.gateway)
    conversation = f"tg-{unique('c')}"
    return user_id, conversation, _summary(payments_service, user_id, bills["electricity"], conversation)


def _typed_yes(
    service: PaymentsService,
    user_id: int,
    conversation: str,
    summary: PaymentSummary,
    typed_at: datetime | None,
) -> str:
    try:
        return str(
            service.confirm_shown_summary(
                user_id=user_id, conversation=conversation, payment_id=summary.payment_id, nonce=None,
                shown_text=summary.summary_text, confirmation="yes", typed_at=typed_at,
            ).status
        )  # fmt: skip
    except (ConfirmationEarlyError, ConfirmationStaleError) as error:
        return error.code


def test_the_rule_at_telegrams_resolution() -> None:
    offered = datetime(2026, 12, 1, 12, 0, 0, 500_000, tzinfo=UTC)
    assert typed_before(offered, datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC))  # same second: refused
    assert typed_before(offered, datetime(2026, 12, 1, 11, 59, 59, tzinfo=UTC))
    assert not typed_before(offered, datetime(2026, 12, 1, 12, 0, 1, tzinfo=UTC))
    assert not typed_before(offered.replace(microsecond=0), datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC))
    assert not typed_before(offered, None)  # no time reported (the console): nothing predates
    assert typed_before(offered.replace(tzinfo=None), datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC))  # SQLite


def test_a_yes_typed_before_the_summary_charges_nothing_and_keeps_it_live(
    payments_service: PaymentsService, live: tuple[int, str, PaymentSummary]
) -> None:
    user_id, conversation, summary = live
    issued = _issued_at(payments_service, summary.payment_id)
    for typed_at in (issued - timedelta(minutes=5), issued.replace(microsecond=0)):
        assert _typed_yes(payments_service, user_id, conversation, summary, typed_at) == "confirmation_early"
    assert _charges(payments_service, summary.payment_id) == 0
    assert _status(payments_service, summary.payment_id) == "draft"
    # A "yes" typed now (a later second) confirms it, once.
    later = issued.replace(microsecond=0) + timedelta(seconds=1)
    assert _typed_yes(payments_service, user_id, conversation, summary, later) == "succeeded"
    assert _charges(payments_service, summary.payment_id) == 1


def test_a_tap_is_not_judged_by_typed_at(
    payments_service: PaymentsService, live: tuple[int, str, PaymentSummary]
) -> None:
    user_id, conversation, summary = live
    result = payments_service.confirm_shown_summary(
        user_id=user_id, conversation=conversation, payment_id=summary.payment_id,
        nonce=summary.confirm_nonce, shown_text=summary.summary_text, confirmation="/affirm",
        typed_at=datetime(2000, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    assert str(result.status) == "succeeded"


def test_a_yes_typed_under_summary_a_never_confirms_summary_b(payments_service: PaymentsService) -> None:
    user_id, bills = make_paying_user(
        payments_service.session_factory,
        payments_service.gateway,
        bills=(("electricity", 8420), ("phone", 1000)),
    )
    conversation = f"tg-{unique('c')}"
    a = _summary(payments_service, user_id, bills["electricity"], conversation)
    typed_at = _issued_at(payments_service, a.payment_id).replace(microsecond=0) + timedelta(seconds=1)
    later = PaymentsService(
        session_factory=payments_service.session_factory, gateway=payments_service.gateway,
        config=payments_service.config, clock=lambda: utcnow() + timedelta(seconds=5),
    )  # fmt: skip
    b = _summary(later, user_id, bills["phone"], conversation)  # shown after the "yes" was typed
    assert _typed_yes(later, user_id, conversation, b, typed_at) == "confirmation_early"
    assert _charges(payments_service, a.payment_id) == 0 and _charges(payments_service, b.payment_id) == 0
    assert _status(payments_service, b.payment_id) == "draft"


def test_the_expiry_rule_is_one_boundary() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    expiry = timedelta(minutes=30)
    assert expiry_cutoff(now, expiry) == now - expiry
    assert past_expiry(now - expiry, now, expiry)  # at the cutoff: expired (the worker's `<=`)
    assert not past_expiry(now - expiry + timedelta(microseconds=1), now, expiry)
    assert past_expiry((now - expiry).replace(tzinfo=None), now, expiry)  # SQLite gives naive times


def test_a_stale_summarys_cancel_or_claim_expires_it_and_records_why(
    payments_service: PaymentsService, live: tuple[int, str, PaymentSummary]
) -> None:
    user_id, conversation, summary = live
    later = PaymentsService(
        session_factory=payments_service.session_factory, gateway=payments_service.gateway,
        config=payments_service.config, clock=lambda: utcnow() + payments_service.config.draft_expiry,
    )  # fmt: skip
    claim = later.confirmations.reissue_unanswered_offer(
        user_id=user_id, conversation=conversation, payment_id=summary.payment_id, nonce=summary.confirm_nonce
    )
    assert claim is None
    assert _status(payments_service, summary.payment_id) == "cancelled"  # expired, and that was kept
    with payments_service.session_factory() as session:
        reasons = [
            entry.data.get("reason")
            for entry in session.scalars(
                select(AuditLogEntry).where(AuditLogEntry.payment_id == summary.payment_id)
            )
            if isinstance(entry.data, dict)
        ]
    assert "expired" in reasons, reasons
    with pytest.raises(ConfirmationStaleError) as refused:
        later.cancel_shown_summary(
            user_id=user_id,
            conversation=conversation,
            payment_id=summary.payment_id,
            nonce=summary.confirm_nonce,
        )
    assert refused.value.params["payment_over"] is True
    assert later.expire_stale_drafts() == 0  # nothing left for the worker's round


@pytest.mark.parametrize("odd", ["\ud800", "ok \udfff"], ids=["lone-surrogate", "trailing-surrogate"])
def test_odd_shown_text_or_typed_words_are_refused_with_a_code(
    payments_service: PaymentsService, live: tuple[int, str, PaymentSummary], odd: str
) -> None:
    user_id, conversation, summary = live
    for shown, typed in ((odd, "/affirm"), (summary.summary_text, odd)):
        with pytest.raises(ConsentMismatchError):
            payments_service.confirm_shown_summary(
                user_id=user_id, conversation=conversation, payment_id=summary.payment_id,
                nonce=summary.confirm_nonce, shown_text=shown, confirmation=typed,
            )  # fmt: skip
    assert _status(payments_service, summary.payment_id) == "draft"
    assert not well_formed_nonce(summary.confirm_nonce[:15] + odd[-1])


def test_an_autopay_confirmation_typed_before_its_offer_sets_up_nothing(
    payments_service: PaymentsService,
) -> None:
    user_id, biller = _user_with_biller(payments_service)
    offer = payments_service.mandates.propose(user_id=user_id, biller_text=biller, cap_text="40")
    with payments_service.session_factory() as session:
        offered = session.scalars(
            select(MandateConsent.offered_at).where(MandateConsent.id == offer.offer_id)
        ).one()
    offered = offered if offered.tzinfo else offered.replace(tzinfo=UTC)
    with pytest.raises(MandateConfirmationEarlyError):
        payments_service.mandates.confirm(
            user_id=user_id, offer_id=0, nonce=None, shown_text=offer.summary_text,
            confirmation="confirm the autopay", typed_at=offered.replace(microsecond=0),
        )  # fmt: skip
    for nonce in ("\ud800", offer.nonce[:15] + "\ud800", "x" * 10_000):
        with pytest.raises(MandateOfferStaleError):
            payments_service.mandates.confirm(
                user_id=user_id, offer_id=offer.offer_id, nonce=nonce, shown_text=offer.summary_text
            )
    with pytest.raises(ConsentMismatchError):
        payments_service.mandates.confirm(
            user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce, shown_text="\ud800"
        )
    view = payments_service.mandates.confirm(
        user_id=user_id, offer_id=0, nonce=None, shown_text=offer.summary_text,
        confirmation="confirm the autopay", typed_at=offered.replace(microsecond=0) + timedelta(seconds=1),
    )  # fmt: skip
    assert view.status == MandateStatus.ACTIVE
