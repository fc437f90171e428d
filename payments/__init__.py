"""paychat's domain core: money, bills, the payment state machine and the payment gateway port."""
