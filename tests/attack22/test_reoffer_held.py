"""Attack 22: what held around a summary re-offered after a lost tap (payments.confirming.
Confirmations.reissue_unanswered_offer; `summary_offers.accepts_typed_yes`, migration 0024).

Each test claims the lost Confirm first (the offer closed, the same summary re-offered under a
fresh nonce: what "Try again" carries), then tries to get money moved some other way than one
tap on that fresh nonce for the summary as shown. Real database (SQLite and PostgreSQL), localstripe.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from payments.errors import PaymentsError
from payments.offers import ReissuedOffer
from payments.service import PaymentsService
from payments.views import PaymentSummary
from tests.helpers.factories import make_paying_user, unique
from tests.payments.test_confirming import _charges, _status, _summary

pytestmark = pytest.mark.sandbox


@pytest.fixture
def claimed(
    payments_service: PaymentsService,
) -> tuple[int, str, dict[str, int], PaymentSummary, ReissuedOffer]:
    user_id, bills = make_paying_user(payments_service.session_factory, payments_service.gateway)
    conversation = f"tg-{unique('c')}"
    summary = _summary(payments_service, user_id, bills["electricity"], conversation)
    fresh = payments_service.confirmations.reissue_unanswered_offer(
        user_id=user_id, conversation=conversation, payment_id=summary.payment_id, nonce=summary.confirm_nonce
    )
    assert fresh is not None
    return user_id, conversation, bills, summary, fresh


def _outcome(
    service: PaymentsService,
    user_id: int,
    conversation: str,
    summary: PaymentSummary,
    nonce: str | None,
    confirmation: str = "/affirm",
    shown_text: str | None = None,
) -> str:
    try:
        result = service.confirm_shown_summary(
            user_id=user_id,
            conversation=conversation,
            payment_id=summary.payment_id,
            nonce=nonce,
            shown_text=summary.summary_text if shown_text is None else shown_text,
            confirmation=confirmation,
        )
    except PaymentsError as error:
        return error.code
    return str(result.status)


@pytest.mark.parametrize("words", ["yes", "confirm", "ok pay it", "/affirm", "Yes, pay €84.20"])
def test_held_typed_words_never_confirm_the_reoffered_summary(
    payments_service: PaymentsService, claimed: tuple, words: str
) -> None:
    user_id, conversation, _bills, summary, fresh = claimed
    for nonce in (None, ""):
        outcome = _outcome(payments_service, user_id, conversation, summary, nonce, confirmation=words)
        assert outcome in {"confirmation_stale", "confirmation_amount"}, outcome
    assert _charges(payments_service, summary.payment_id) == 0
    # Still live for its own tap.
    assert _outcome(payments_service, user_id, conversation, summary, fresh.nonce) == "succeeded"


def test_held_the_fresh_nonce_from_another_user_or_conversation_charges_nothing(
    payments_service: PaymentsService, claimed: tuple
) -> None:
    user_id, conversation, _bills, summary, fresh = claimed
    other_user, _ = make_paying_user(payments_service.session_factory, payments_service.gateway)
    assert _outcome(payments_service, other_user, conversation, summary, fresh.nonce) not in {"succeeded"}
    assert _outcome(payments_service, user_id, f"tg-{unique('c')}", summary, fresh.nonce) == (
        "confirmation_invalid"
    )
    assert _outcome(
        payments_service, user_id, conversation, summary, fresh.nonce, shown_text="Pay €1.00"
    ) == ("consent_mismatch")
    assert _charges(payments_service, summary.payment_id) == 0
    assert _outcome(payments_service, user_id, conversation, summary, fresh.nonce) == "succeeded"


def test_held_two_taps_of_the_fresh_nonce_at_once_charge_once(
    payments_service: PaymentsService, claimed: tuple
) -> None:
    user_id, conversation, _bills, summary, fresh = claimed
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(
            pool.map(
                lambda _: _outcome(payments_service, user_id, conversation, summary, fresh.nonce), range(2)
            )
        )
    assert sorted(outcomes).count("succeeded") == 1, outcomes
    assert _charges(payments_service, summary.payment_id) == 1


def test_held_the_reoffer_after_the_bill_was_paid_elsewhere_charges_nothing(
    payments_service: PaymentsService, claimed: tuple
) -> None:
    user_id, conversation, bills, summary, fresh = claimed
    elsewhere = f"console-{user_id}-{unique('s')}"
    other = _summary(payments_service, user_id, bills["electricity"], elsewhere)
    assert _outcome(payments_service, user_id, elsewhere, other, other.confirm_nonce) == "succeeded"
    outcome = _outcome(payments_service, user_id, conversation, summary, fresh.nonce)
    assert outcome != "succeeded", outcome
    assert _charges(payments_service, summary.payment_id) == 0


def test_held_the_reoffer_after_a_typed_stop_charges_nothing(
    payments_service: PaymentsService, claimed: tuple
) -> None:
    """A typed "stop" cancels the pending draft (payments.cancel_payment, not through the offer):
    the re-offer's Try again then finds a cancelled draft."""
    user_id, conversation, _bills, summary, fresh = claimed
    payments_service.cancel_payment(user_id=user_id, payment_id=summary.payment_id)
    assert _outcome(payments_service, user_id, conversation, summary, fresh.nonce) == "confirmation_stale"
    assert _status(payments_service, summary.payment_id) == "cancelled"
    assert _charges(payments_service, summary.payment_id) == 0
