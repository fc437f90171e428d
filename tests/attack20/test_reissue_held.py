"""Attack 20 on the claim of a lost tap (payments.confirming.Confirmations.reissue_unanswered_offer),
attacks that held: minting nonces by claiming again and again, claiming a cancelled or paid draft,
two claims of one lost tap racing. Real database (SQLite and PostgreSQL), localstripe."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from db.models import SummaryOffer
from payments.errors import ConfirmationStaleError, ConfirmationUsedError, PaymentsError
from payments.service import PaymentsService
from payments.statuses import PaymentStatus
from payments.views import PaymentSummary
from tests.helpers.factories import make_paying_user, unique
from tests.payments.test_confirming import _charges, _status, _summary, _tap

pytestmark = pytest.mark.sandbox


@pytest.fixture
def live(payments_service: PaymentsService) -> tuple[int, str, PaymentSummary]:
    user_id, bills = make_paying_user(payments_service.session_factory, payments_service.gateway)
    conversation = f"tg-{unique('c')}"
    return user_id, conversation, _summary(payments_service, user_id, bills["electricity"], conversation)


def _claim(
    service: PaymentsService, user_id: int, conversation: str, payment_id: int, nonce: str
) -> str | None:
    fresh = service.confirmations.reissue_unanswered_offer(
        user_id=user_id, conversation=conversation, payment_id=payment_id, nonce=nonce
    )
    return None if fresh is None else fresh.nonce


def _open_offers(service: PaymentsService, payment_id: int) -> int:
    with service.session_factory() as session:
        offers = session.scalars(select(SummaryOffer).where(SummaryOffer.payment_id == payment_id))
        return sum(1 for offer in offers if offer.closed_at is None)


def test_claims_in_a_row_leave_one_live_offer_and_only_the_newest_nonce_charges_once(
    payments_service: PaymentsService, live: tuple[int, str, PaymentSummary]
) -> None:
    user_id, conversation, summary = live
    nonces = [summary.confirm_nonce]
    for _ in range(3):
        fresh = _claim(payments_service, user_id, conversation, summary.payment_id, nonces[-1])
        assert fresh is not None and fresh not in nonces
        nonces.append(fresh)
        assert _open_offers(payments_service, summary.payment_id) == 1
    for old in nonces[:-1]:  # a superseded nonce neither charges nor mints another
        with pytest.raises(ConfirmationStaleError):
            payments_service.confirm_shown_summary(**_tap(user_id, conversation, summary, old))  # type: ignore[arg-type]
        assert _claim(payments_service, user_id, conversation, summary.payment_id, old) is None
    result = payments_service.confirm_shown_summary(**_tap(user_id, conversation, summary, nonces[-1]))  # type: ignore[arg-type]
    assert result.status == PaymentStatus.SUCCEEDED
    assert _claim(payments_service, user_id, conversation, summary.payment_id, nonces[-1]) is None
    with pytest.raises(ConfirmationUsedError):
        payments_service.confirm_shown_summary(**_tap(user_id, conversation, summary, nonces[-1]))  # type: ignore[arg-type]
    assert _charges(payments_service, summary.payment_id) == 1


def test_a_cancelled_draft_is_not_claimed_back_to_life(
    payments_service: PaymentsService, live: tuple[int, str, PaymentSummary]
) -> None:
    user_id, conversation, summary = live
    fresh = _claim(payments_service, user_id, conversation, summary.payment_id, summary.confirm_nonce)
    assert fresh is not None
    payments_service.cancel_shown_summary(
        user_id=user_id, conversation=conversation, payment_id=summary.payment_id, nonce=fresh
    )
    assert _claim(payments_service, user_id, conversation, summary.payment_id, fresh) is None
    assert _open_offers(payments_service, summary.payment_id) == 0
    assert _status(payments_service, summary.payment_id) == "cancelled"


def test_two_claims_of_one_lost_tap_racing_mint_at_most_one_live_offer(
    payments_service: PaymentsService, live: tuple[int, str, PaymentSummary]
) -> None:
    user_id, conversation, summary = live

    def claim() -> str | None:
        try:
            return _claim(payments_service, user_id, conversation, summary.payment_id, summary.confirm_nonce)
        except PaymentsError:
            return None
        except Exception:  # a busy SQLite writer: the bot treats it as "may have been carried out"
            return None

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = [f.result() for f in [pool.submit(claim), pool.submit(claim)]]
    granted = [nonce for nonce in outcomes if nonce is not None]
    assert len(granted) <= 1, outcomes
    assert _open_offers(payments_service, summary.payment_id) == 1  # the original, or the one fresh
    if granted:
        result = payments_service.confirm_shown_summary(**_tap(user_id, conversation, summary, granted[0]))  # type: ignore[arg-type]
        assert result.status == PaymentStatus.SUCCEEDED
    assert _charges(payments_service, summary.payment_id) == len(granted)
