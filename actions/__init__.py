"""paychat's Rasa SDK action server: `python -m rasa_sdk --actions actions --port 5055`.

Importing this package registers every action (rasa-sdk collects Action subclasses); nothing
else happens at import time — the payments service is built on first use (actions.services).
"""

from actions import bills, fallback, forms, paying

__all__ = ["bills", "fallback", "forms", "paying"]
