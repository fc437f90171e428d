"""Attack (issue 13 item 8): what "until <month>" means, and offers confirmed by the wrong hand.

README: "a month named alone means its last day". Offers: only the offer's own nonce (a tap) or
the user's own newest open offer (typed words) with the exact summary text makes a mandate.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from payments.errors import ConsentMismatchError
from payments.mandates import MandateOfferStaleError, MandateStatus, expiry_day
from payments.service import PaymentsService
from tests.attack13.test_mandates_revoked_still_charges import _user_with_biller

MID_JUNE = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
MID_DECEMBER = datetime(2026, 12, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "now", "meant"),
    [
        ("June", MID_DECEMBER, date(2027, 6, 30)),
        ("until June", MID_DECEMBER, date(2027, 6, 30)),
        ("June", MID_JUNE, date(2026, 6, 30)),
    ],
)
def test_holds_an_english_month_alone_means_its_next_last_day(text: str, now: datetime, meant: date) -> None:
    assert expiry_day(text, timezone="Europe/Berlin", now=now) == meant


def test_a_month_abbreviation_in_its_own_month_means_this_months_end() -> None:
    # "June" on 15 June 2026 → 30 June 2026; the same month abbreviated gives 30 June 2027.
    assert expiry_day("jun", timezone="Europe/Berlin", now=MID_JUNE) == date(2026, 6, 30)


def test_a_german_month_alone_means_its_last_day() -> None:
    # German is a supported locale (dates parse en+de); "bis Juni" is refused, "Juni" gives 15 June 2027.
    assert expiry_day("Juni", timezone="Europe/Berlin", now=MID_DECEMBER) == date(2027, 6, 30)


def test_a_month_with_a_year_means_its_last_day() -> None:
    assert expiry_day("June 2027", timezone="Europe/Berlin", now=MID_DECEMBER) == date(2027, 6, 30)


@pytest.mark.sandbox
def test_holds_another_users_offer_cannot_be_confirmed_with_its_nonce(
    payments_service: PaymentsService,
) -> None:
    victim, biller = _user_with_biller(payments_service)
    attacker, _ = _user_with_biller(payments_service)
    offer = payments_service.mandates.propose(user_id=victim, biller_text=biller, cap_text="40")
    with pytest.raises(MandateOfferStaleError):
        payments_service.mandates.confirm(
            user_id=attacker, offer_id=offer.offer_id, nonce=offer.nonce, shown_text=offer.summary_text
        )
    # The victim's offer is still theirs to confirm (the attacker's try did not burn it).
    view = payments_service.mandates.confirm(
        user_id=victim, offer_id=offer.offer_id, nonce=offer.nonce, shown_text=offer.summary_text
    )
    assert view.status == MandateStatus.ACTIVE
    payments_service.mandates.revoke(user_id=victim, biller_text=biller)


@pytest.mark.sandbox
def test_holds_a_typed_confirm_needs_the_newest_offers_exact_text(payments_service: PaymentsService) -> None:
    user_id, biller = _user_with_biller(payments_service)
    old = payments_service.mandates.propose(user_id=user_id, biller_text=biller, cap_text="40")
    new = payments_service.mandates.propose(user_id=user_id, biller_text=biller, cap_text="400")
    assert old.summary_text != new.summary_text
    # "yes" typed under the old summary (the slot still holds its text): refused, nothing set up.
    with pytest.raises((ConsentMismatchError, MandateOfferStaleError)):
        payments_service.mandates.confirm(
            user_id=user_id, offer_id=0, nonce=None, shown_text=old.summary_text, confirmation="yes"
        )
    # The old offer's own tap is stale too (superseded).
    with pytest.raises(MandateOfferStaleError):
        payments_service.mandates.confirm(
            user_id=user_id, offer_id=old.offer_id, nonce=old.nonce, shown_text=old.summary_text
        )
    assert payments_service.mandates.list_mandates(user_id=user_id) == []
