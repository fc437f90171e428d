"""attack15b: one user's own chatter evicts every other user's kept buttons and paged lists.

Long button payloads (and "Try again" taps) are kept in one process-wide `PayloadStore` of 10,000
keys, paged lists in one `PageStore` of 5,000 lists, each forgetting the oldest entry first with no
share per user. Nothing limits how fast a user writes, so one user asking for their bills (a list
of long-payload buttons) or their history again and again pushes everyone else's out: another
customer's "Try again" after an outage, their bill buttons or their pages then answer "expired".
"""

from __future__ import annotations

from bot import texts
from bot.pages import PageStore, paged
from bot.rendering import PayloadStore

VICTIM, MALLORY = 1001, 6666
LONG = '/pay_bill{"biller": "' + "Stadtwerke Musterstadt Energie " * 3 + '"}'  # kept under a key
LIST = "Your payments:\n" + "\n".join(f"• payment {n}" for n in range(25))


def test_another_users_buttons_never_push_out_a_users_kept_payload() -> None:
    store = PayloadStore()  # the bot's default capacity
    data = store.callback_data(VICTIM, LONG)
    assert store.resolve(VICTIM, data) == LONG
    for _ in range(1_000):  # a thousand bill lists of ten long-payload buttons each
        for _ in range(10):
            store.callback_data(MALLORY, LONG)
    assert store.resolve(VICTIM, data) == LONG, "the victim's button now answers 'expired'"


def test_another_users_lists_never_push_out_a_users_pages() -> None:
    pages = paged(LIST)
    assert pages is not None
    store = PageStore()  # the bot's default capacity
    key = store.keep(VICTIM, pages)
    store.sent_as(key, VICTIM, 10)
    assert store.turn(f"pg:{key}:2", user_id=VICTIM, chat_id=VICTIM, message_id=10) != texts.PAGE_EXPIRED
    for n in range(5_000):  # Mallory asks for her history 5,000 times
        store.sent_as(store.keep(MALLORY, pages), MALLORY, 100 + n)
    turned = store.turn(f"pg:{key}:2", user_id=VICTIM, chat_id=VICTIM, message_id=10)
    assert turned != texts.PAGE_EXPIRED, "the victim's Next button now says the list expired"
