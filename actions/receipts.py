"""The values a receipt response (`utter_payment_succeeded`) is filled with, from `payments.views.Receipt`."""

from __future__ import annotations

from typing import Any

from payments.views import Receipt


def receipt_values(receipt: Receipt | None) -> dict[str, Any]:
    """Receipt fields for a response's `{v_…}` placeholders; empty strings when there is none."""
    if receipt is None:
        return dict.fromkeys(
            ("receipt_reference", "bill_reference", "card_brand", "card_last4", "paid_at_text", "timezone"),
            "",
        )
    return {
        "receipt_reference": receipt.reference,
        "bill_reference": receipt.bill_reference,
        "card_brand": receipt.card_brand.capitalize(),
        "card_last4": receipt.card_last4,
        "paid_at_text": receipt.paid_at_text,
        "timezone": receipt.timezone,
    }
