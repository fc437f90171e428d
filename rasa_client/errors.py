"""What a call to the assistant can fail with (re-exported by `rasa_client`)."""

from __future__ import annotations


class AssistantUnavailableError(Exception):
    """Rasa (or the action server behind it) could not be reached or failed; nothing was answered."""


class MessageRefusedError(AssistantUnavailableError):
    """The channel refused the message (4xx): it was not processed. Edges check `is_sendable` first."""


class AssistantBusyError(AssistantUnavailableError):
    """More calls wait for Rasa than the queue holds (`RASA_MAX_WAITING`): this message was NOT sent,
    so it was not processed; the caller keeps it and offers a retry (rasa_client.admission)."""
