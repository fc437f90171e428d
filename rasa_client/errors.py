"""What a call to the assistant can fail with (re-exported by `rasa_client`)."""

from __future__ import annotations


class AssistantUnavailableError(Exception):
    """Rasa (or the action server behind it) could not be reached or failed; nothing was answered."""


class MessageRefusedError(AssistantUnavailableError):
    """The channel refused the message (4xx): it was not processed. Edges check `is_sendable` first."""


class AssistantBusyError(AssistantUnavailableError):
    """More calls wait for Rasa than the queue holds (`RASA_MAX_WAITING`), or this one waited for a
    slot longer than `RASA_MAX_QUEUE_WAIT_SECONDS`: this message was NOT sent,
    so it was not processed; the caller keeps it and offers a retry (rasa_client.admission)."""


class AssistantNoAnswerError(AssistantUnavailableError):
    """The message reached Rasa (or may have) but no answer came back: a read timeout, or the
    connection dropped after the request went out. It may have been processed: callers must not
    say it was not (payment outcomes reached meanwhile are told by the outbox, issue 10)."""


class ConversationUnreadableError(AssistantUnavailableError):
    """Rasa could not read this conversation from its tracker store (503 `conversation_unreadable`):
    the message was refused before the turn ran, so it was not processed; it can be sent again."""
