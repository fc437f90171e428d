"""paychat's Rasa SDK actions, served by `python -m actions.server` (behind a shared secret).

Importing this package registers every action (rasa-sdk collects Action subclasses); nothing
else happens at import time — the payments service is built on first use (actions.services).
"""

from actions import (
    bills,
    fallback,
    forms,
    mandates,  # issue 13 item 8
    paying,
    paying_all,
    reminders,  # issue 13 item 4
)

__all__ = ["bills", "fallback", "forms", "mandates", "paying", "paying_all", "reminders"]
