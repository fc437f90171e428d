"""The sandbox's stand-in for the customer's bank: answering a 3-D Secure challenge through a signed link.

localstripe has no hosted challenge page, so the console shows one; the link is signed
(payments.challenge) and only works while the gateway is the sandbox. Every refusal looks the
same (a bad signature, an unknown PaymentIntent, a real gateway): the link is no existence oracle.
"""

from __future__ import annotations

from payments.challenge import challenge_signature_valid
from payments.config import ServiceConfig
from payments.errors import PaymentNotFoundError, PaymentNotPendingError
from payments.gateway import PaymentGateway
from payments.settlement import Settlement
from payments.statuses import PaymentStatus
from payments.unit_of_work import UnitOfWork, owned_payment, payment_by_intent
from payments.views import PaymentResult


class SandboxBank:
    """3-D Secure challenges of the Stripe sandbox, answered by the paying user on the console."""

    def __init__(
        self, uow: UnitOfWork, gateway: PaymentGateway, settlement: Settlement, config: ServiceConfig
    ) -> None:
        self._uow = uow
        self._gateway = gateway
        self._settlement = settlement
        self._config = config

    def complete_sandbox_authentication(
        self, *, user_id: int, payment_id: int, success: bool
    ) -> PaymentResult:
        """Pass (or fail) a 3-D Secure challenge in the Stripe sandbox, then settle the payment."""
        with self._uow.tx() as session:
            payment = owned_payment(session, user_id, payment_id)
            intent_id = payment.payment_intent_id
            if payment.status != PaymentStatus.REQUIRES_ACTION.value or not intent_id:
                raise PaymentNotPendingError(payment_id=payment_id, status=payment.status)
        controls = self._gateway.sandbox_controls()
        if controls is None:
            raise PaymentNotPendingError(payment_id=payment_id, reason="not_sandbox")
        controls.authenticate_in_sandbox(intent_id, success=success)
        return self._settlement.refresh_payment(user_id=user_id, payment_id=payment_id)

    def challenge_owner(self, payment_intent_id: str, signature: str) -> tuple[int, int]:
        """(user id, payment id) of a signed challenge link; the same error for every refusal."""
        if self._gateway.sandbox_controls() is None or not challenge_signature_valid(
            self._config.challenge_signing_key, payment_intent_id, signature
        ):
            raise PaymentNotFoundError(reason="challenge_link_invalid")
        with self._uow.tx() as session:
            payment = payment_by_intent(session, payment_intent_id)
            if payment is None:
                raise PaymentNotFoundError(reason="challenge_link_invalid")
            return payment.user_id, payment.id

    def complete_sandbox_challenge(
        self, *, payment_intent_id: str, signature: str, success: bool
    ) -> PaymentResult:
        """Answer a sandbox 3-D Secure challenge reached through its signed link, then settle."""
        user_id, payment_id = self.challenge_owner(payment_intent_id, signature)
        return self.complete_sandbox_authentication(user_id=user_id, payment_id=payment_id, success=success)
