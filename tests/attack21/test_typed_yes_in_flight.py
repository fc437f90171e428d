"""Attack 21: the claim of a lost Confirm tap (payments.confirming.Confirmations.
reissue_unanswered_offer, bot.relay.tell_unanswered_tap) makes "nothing has been charged" true for
that TAP only. The summary is offered again under a fresh nonce, and that fresh offer is the
conversation's newest live offer, which a typed "yes" (no nonce: `_latest_offer`) confirms.

A typed "yes" sent BEFORE the claim and still on its way (its action call held at a busy action
server past Rasa's 25 s action timeout, as in attack19's holding proxy: the bot was told NO_ANSWER,
the action server runs it later) then charges the reissued offer, after the user was told "the
payment is still waiting for your answer, and nothing has been charged for it".

Sequence a user gets by typing "yes" under a summary, getting no answer in time, then tapping the
summary's Confirm (still under it: a typed yes removes no keyboard), which gets no answer either:
  1. summary shown (offer O1, nonce N1); the typed "yes" leaves for the action server, held there;
  2. the Confirm tap (N1) is lost too; the bot claims it: O1 closed, O2 issued, "nothing charged";
  3. the held "yes" reaches payments: nonce None -> newest offer O2, live -> charged.

Real database (SQLite and PostgreSQL), localstripe.

Fixed: a reissued offer is confirmed by its own nonce only (`summary_offers.accepts_typed_yes`,
migration 0024), and a claim needs a tap's non-empty nonce (bot.rendering.summary_tap refuses an
empty one too).
"""

from __future__ import annotations

import pytest

from payments.errors import PaymentsError
from payments.service import PaymentsService
from payments.views import PaymentSummary
from tests.helpers.factories import make_paying_user, unique
from tests.payments.test_confirming import _charges, _status, _summary

pytestmark = pytest.mark.sandbox


@pytest.fixture
def live(payments_service: PaymentsService) -> tuple[int, str, PaymentSummary]:
    user_id, bills = make_paying_user(payments_service.session_factory, payments_service.gateway)
    conversation = f"tg-{unique('c')}"
    return user_id, conversation, _summary(payments_service, user_id, bills["electricity"], conversation)


def _typed_yes(service: PaymentsService, user_id: int, conversation: str, summary: PaymentSummary) -> str:
    """What action_confirm_payment hands payments for a typed "yes" (tapped_offer: no draft id and
    no nonce, so the pending payment; shown_text: the payment_summary slot). Its outcome or code."""
    try:
        result = service.confirm_shown_summary(
            user_id=user_id,
            conversation=conversation,
            payment_id=summary.payment_id,
            nonce=None,
            shown_text=summary.summary_text,
            confirmation="yes",
        )
    except PaymentsError as error:
        return error.code
    return str(result.status)


def test_a_typed_yes_in_flight_does_not_charge_after_the_tap_was_claimed(
    payments_service: PaymentsService, live: tuple[int, str, PaymentSummary]
) -> None:
    user_id, conversation, summary = live
    # 2. The lost Confirm tap is claimed: the bot now says "nothing has been charged for it".
    fresh = payments_service.confirmations.reissue_unanswered_offer(
        user_id=user_id, conversation=conversation, payment_id=summary.payment_id, nonce=summary.confirm_nonce
    )
    assert fresh is not None  # the premise: the claim succeeded, so the user was told so
    assert _status(payments_service, summary.payment_id) == "draft"
    assert _charges(payments_service, summary.payment_id) == 0
    # 3. The "yes" typed before the claim reaches payments now.
    outcome = _typed_yes(payments_service, user_id, conversation, summary)
    assert _charges(payments_service, summary.payment_id) == 0, (
        f"told nothing was charged, then the earlier typed yes charged the reissued summary: {outcome}"
    )
    assert outcome == "confirmation_stale"
    # The Try again button (the fresh nonce) still confirms it, once.
    result = payments_service.confirm_shown_summary(
        user_id=user_id,
        conversation=conversation,
        payment_id=summary.payment_id,
        nonce=fresh.nonce,
        shown_text=summary.summary_text,
        confirmation="/affirm",
    )
    assert str(result.status) == "succeeded"
    assert _charges(payments_service, summary.payment_id) == 1


def test_held_a_typed_yes_without_any_claim_still_confirms_the_live_summary(
    payments_service: PaymentsService, live: tuple[int, str, PaymentSummary]
) -> None:
    """Control: a typed yes is a valid consent to the live summary when nothing was claimed (so the
    xfail above fails for the claim, not because typed yeses never charge here)."""
    user_id, conversation, summary = live
    assert _typed_yes(payments_service, user_id, conversation, summary) == "succeeded"
    assert _charges(payments_service, summary.payment_id) == 1


def test_held_the_claimed_tap_itself_arriving_late_charges_nothing(
    payments_service: PaymentsService, live: tuple[int, str, PaymentSummary]
) -> None:
    user_id, conversation, summary = live
    fresh = payments_service.confirmations.reissue_unanswered_offer(
        user_id=user_id, conversation=conversation, payment_id=summary.payment_id, nonce=summary.confirm_nonce
    )
    assert fresh is not None
    with pytest.raises(PaymentsError):
        payments_service.confirm_shown_summary(
            user_id=user_id,
            conversation=conversation,
            payment_id=summary.payment_id,
            nonce=summary.confirm_nonce,
            shown_text=summary.summary_text,
            confirmation="/affirm",
        )
    assert _charges(payments_service, summary.payment_id) == 0


@pytest.mark.parametrize("nonce", ["", None])
def test_a_claim_without_a_nonce_claims_nothing(
    payments_service: PaymentsService, live: tuple[int, str, PaymentSummary], nonce: str | None
) -> None:
    """bot.rendering.summary_tap accepts `"confirm_nonce": ""`, and typed text is relayed as it is:
    a typed 'yes {"draft_id": 7, "confirm_nonce": ""}' that gets no answer in time is taken for a
    lost tap (is_summary_payload) and claimed through `_live_offer`'s typed-yes branch (`if nonce`):
    the live offer is closed and reissued and the user told "nothing has been charged", while that
    typed yes (nonce None at the action) is itself on its way to confirm the reissued offer."""
    user_id, conversation, summary = live
    fresh = payments_service.confirmations.reissue_unanswered_offer(
        user_id=user_id, conversation=conversation, payment_id=summary.payment_id, nonce=nonce
    )
    assert fresh is None, "a claim is for a tapped nonce only"
