"""The money invariants the benchmark and the reliability scenarios check after a run.

Charges are counted on both sides: the sandbox's PaymentIntents (each carries the payment's
idempotency key in its metadata) and the payments table. A key with two successful intents is a
double charge; a successful intent whose payment is not `succeeded` is money taken that the
database does not know about (unless the payment is `unknown`/`processing`, which the worker
reconciles). Payments left in a non-terminal state are listed too.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
from sqlalchemy import select

from db.engine import make_engine
from db.models import Payment
from payments.stripe_gateway import IDEMPOTENCY_METADATA_KEY

TERMINAL = {"succeeded", "failed", "cancelled"}
# Not terminal, but each has a path forward without the user: the worker reconciles `unknown`
# and `processing`; `requires_action` waits for the bank page or its webhook; drafts expire.
WAITING_WITH_A_PATH = {"unknown", "processing", "requires_action", "draft", "awaiting_approval", "approved"}


def sandbox_intents(sandbox_base: str) -> list[dict[str, Any]]:
    """Every PaymentIntent in the sandbox (paged)."""
    intents: list[dict[str, Any]] = []
    after: str | None = None
    with httpx.Client(
        base_url=sandbox_base, headers={"Authorization": "Bearer sk_test_bench"}, timeout=30
    ) as http:
        while True:
            params: dict[str, Any] = {"limit": 100}
            if after:
                params["starting_after"] = after
            page = http.get("/v1/payment_intents", params=params).raise_for_status().json()
            intents.extend(page["data"])
            if not page.get("has_more") or not page["data"]:
                return intents
            after = page["data"][-1]["id"]


def charge_counts(database_url: str, sandbox_base: str) -> dict[str, Any]:
    """Charges in the sandbox against payments in the database; `double_charges` must be 0."""
    intents = sandbox_intents(sandbox_base)
    succeeded_by_key = Counter(
        (i.get("metadata") or {}).get(IDEMPOTENCY_METADATA_KEY) for i in intents if i["status"] == "succeeded"
    )
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(Payment.id, Payment.status, Payment.idempotency_key, Payment.payment_intent_id)
            ).all()
    finally:
        engine.dispose()
    status_by_key = {row.idempotency_key: row.status for row in rows}
    charged_unrecorded = [
        key
        for key in succeeded_by_key
        if status_by_key.get(key) not in ("succeeded", "unknown", "processing")
    ]
    statuses = Counter(row.status for row in rows)
    return {
        "payment_intents": len(intents),
        "succeeded_intents": sum(succeeded_by_key.values()),
        "succeeded_payments": statuses.get("succeeded", 0),
        "payments_with_intent": sum(1 for row in rows if row.payment_intent_id),
        "double_charges": sum(n - 1 for n in succeeded_by_key.values() if n > 1),
        "charged_but_not_succeeded": len(charged_unrecorded),
        "statuses": dict(statuses),
        "stuck": {s: n for s, n in statuses.items() if s not in TERMINAL and s not in WAITING_WITH_A_PATH},
    }
