"""Paying several bills in one go ("pay everything that's due"): one bill at a time, each its own payment.

A round starts from what is due (`bills_due`: the open bills with a total per currency). It then
offers the round's bills one at a time through the single-bill path: `next_bill` drafts the next
bill that is still open for its whole outstanding amount, today, as the conversation's live offer
(payments.drafting.prepare_payment), so each bill gets its own summary, nonce, consent, payment and
idempotency key, and nothing is charged without that bill's own Confirm (payments.confirming).
There is no "confirm all": a round only chains single-bill offers.

The edge keeps the round (the bill ids listed, those still to offer, the drafts offered) and hands
it back; the core trusts none of it: ids that are not the user's open bills are dropped, a bill
paid meanwhile is skipped, and the report reads every payment and bill again.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from payments.drafting import Drafting, SummaryRenderer, terms_line
from payments.errors import PaymentNotFoundError, PaymentsError
from payments.ledger import Ledger
from payments.money import Money, format_money
from payments.statuses import PaymentStatus
from payments.unit_of_work import UnitOfWork, load_user, owned_payment
from payments.views import BillView, DueBills, NextBill, PayAllReport, SkippedBill, payment_view

# A round's payments the user never confirmed: not part of what the round did.
NOT_CONFIRMED = frozenset({PaymentStatus.DRAFT.value, PaymentStatus.CANCELLED.value})


def due_bills(bills: Sequence[BillView], locale: str) -> DueBills:
    """The bills with what they add up to: one total per currency, never across currencies."""
    totals: dict[str, Money] = {}
    for bill in bills:
        owed = bill.outstanding
        totals[owed.currency] = totals[owed.currency] + owed if owed.currency in totals else owed
    sums = list(totals.values())
    return DueBills(
        bills=list(bills), totals=sums, totals_text=[format_money(total, locale) for total in sums]
    )


class PayingAll:
    """What is due, the next bill of a round as a single-bill offer, and what a round did."""

    def __init__(self, uow: UnitOfWork, ledger: Ledger, drafting: Drafting) -> None:
        self._uow = uow
        self._ledger = ledger
        self._drafting = drafting

    def _locale(self, user_id: int) -> str:
        with self._uow.tx() as session:
            return load_user(session, user_id).locale

    def bills_due(self, *, user_id: int) -> DueBills:
        """The user's open bills (earliest due first) with the total still owed per currency."""
        return due_bills(self._ledger.open_bills(user_id=user_id), self._locale(user_id))

    def next_bill(
        self,
        *,
        user_id: int,
        conversation: str,
        bill_ids: Sequence[int],
        listed_bill_ids: Collection[int],
        payment_ids: Collection[int],
        replacing_payment_id: int | None = None,
        render_summary: SummaryRenderer = terms_line,
    ) -> NextBill:
        """Draft the first of `bill_ids` that is still one of the user's open bills, as the live offer.

        A bill whose drafting is refused is skipped with its error and the next one is tried.
        `replacing_payment_id` (a summary shown before the round's first) is cancelled with the
        first draft (left as it is when no bill is left to draft). With nothing left to offer, the
        report of the round (`listed_bill_ids`, `payment_ids`) comes back instead of a summary.
        """
        open_now = {bill.id: bill for bill in self._ledger.open_bills(user_id=user_id)}
        queue = [bill_id for bill_id in bill_ids if bill_id in open_now]
        skipped: list[SkippedBill] = []
        replacing = replacing_payment_id
        while queue:
            bill = open_now[queue.pop(0)]
            try:
                summary = self._drafting.prepare_payment(
                    user_id=user_id,
                    biller_text=None,
                    bill_id=bill.id,
                    amount_text=None,
                    date_text=None,
                    replacing_payment_id=replacing,
                    render_summary=render_summary,
                    conversation=conversation,
                )
            except PaymentsError as error:
                # prepare_payment dropped the replaced draft even though it refused this bill.
                skipped.append(SkippedBill(bill=bill, error=error))
                replacing = None
                continue
            return NextBill(summary=summary, remaining=queue, skipped=skipped)
        report = self.report(user_id=user_id, listed_bill_ids=listed_bill_ids, payment_ids=payment_ids)
        return NextBill(summary=None, remaining=[], skipped=skipped, report=report)

    def report(
        self, *, user_id: int, listed_bill_ids: Collection[int], payment_ids: Collection[int]
    ) -> PayAllReport:
        """What a round did: its confirmed payments as they stand now, and its bills still open.

        Payment ids that are not the user's are left out, as are drafts never confirmed.
        """
        with self._uow.tx() as session:
            views = []
            for payment_id in dict.fromkeys(payment_ids):
                try:
                    payment = owned_payment(session, user_id, payment_id)
                except PaymentNotFoundError:
                    continue
                if payment.status not in NOT_CONFIRMED:
                    views.append(payment_view(session, payment))
        listed = set(listed_bill_ids)
        left = [bill for bill in self._ledger.open_bills(user_id=user_id) if bill.id in listed]
        return PayAllReport(payments=views, left=due_bills(left, self._locale(user_id)))
