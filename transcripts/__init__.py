"""Transcripts: every turn of every conversation (Telegram and console), kept for review and tuning.

Not part of payments: the edges (bot/, console/) record turns after each assistant answer and the
console reads them back. Card numbers are redacted with privacy.cards before anything is stored.
"""

from privacy.cards import CARD_PLACEHOLDER
from transcripts.queries import (
    conversation_id_for_sender,
    find_test_user,
    get_conversation,
    list_conversation_users,
    list_conversations,
    list_intents,
    list_test_users,
    sender_ids_of_user,
)
from transcripts.recording import RecordedTurn, record_turn, store_turn
from transcripts.views import ConversationDetail, ConversationSummary, TestUserView, TurnView, actions_run

__all__ = [
    "CARD_PLACEHOLDER",
    "ConversationDetail",
    "ConversationSummary",
    "RecordedTurn",
    "TestUserView",
    "TurnView",
    "actions_run",
    "conversation_id_for_sender",
    "find_test_user",
    "get_conversation",
    "list_conversation_users",
    "list_conversations",
    "list_intents",
    "list_test_users",
    "record_turn",
    "sender_ids_of_user",
    "store_turn",
]
