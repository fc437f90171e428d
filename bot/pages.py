"""Long lists page by page: a reply with many "• " lines (bills, history) is shown one page at a
time, with Previous / Next buttons that edit the message in place.

Telegram cuts nothing itself, it refuses a message over 4,096 characters; splitting a long list
into several messages floods the chat. So a list reply of more than `PAGE_ITEMS` items (or too
long for one message) is kept in memory under a random key bound to the user, the chat and the
message it was sent as, and a page button carries `pg:<key>:<page>`. A tap is checked before
anything is shown: malformed data, an unknown or expired key, someone else's key, another
message's key or a page that does not exist each get a short answer and change nothing. Pages do
not survive a restart: the tap then says the list has expired (ask again).
"""

from __future__ import annotations

import itertools
import re
import secrets
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import texts
from bot.userstore import UserBoundStore

PAGE_PREFIX = "pg:"
PAGE_ITEMS = 10
PAGE_CHARS = 3500  # the items of one page: leaves room under Telegram's 4,096 for the frame
FRAME_CHARS = 500  # the most header and footer a paged list may have
BULLET = "• "
PAGE_DATA = re.compile(r"pg:([A-Za-z0-9_-]{12}):(\d{1,4})")


@dataclass(frozen=True)
class PagedList:
    """A list reply cut into pages: the lines above the items, the items by page, the lines below."""

    header: str
    pages: tuple[tuple[str, ...], ...]
    footer: str

    def text(self, page: int) -> str:
        """The message text of page `page` (1-based), with "Page n of m"."""
        marker = texts.PAGE_OF.format(page=page, pages=len(self.pages))
        parts = [self.header, "\n".join(self.pages[page - 1]), marker, self.footer]
        return "\n".join(part for part in parts if part)


def paged(text: str, *, per_page: int = PAGE_ITEMS, max_chars: int = PAGE_CHARS) -> PagedList | None:
    """The list in `text` cut into pages, or None when it fits on one page (or is not a list)."""
    lines = text.split("\n")
    bullets = [i for i, line in enumerate(lines) if line.startswith(BULLET)]
    if not bullets or (len(bullets) <= per_page and len(text) <= max_chars):
        return None
    first, last = bullets[0], bullets[-1]
    header, footer = "\n".join(lines[:first]), "\n".join(lines[last + 1 :])
    # An item is its bullet line and any lines under it up to the next bullet.
    starts = [*bullets, last + 1]
    items = ["\n".join(lines[a:b]) for a, b in itertools.pairwise(starts)]
    if len(header) + len(footer) > FRAME_CHARS or max(len(item) for item in items) > max_chars:
        return None  # not a list of short items: sent split into messages instead, nothing cut
    pages: list[list[str]] = [[]]
    for item in items:
        page = pages[-1]
        if page and (len(page) >= per_page or sum(len(i) + 1 for i in page) + len(item) > max_chars):
            pages.append(page := [])
        page.append(item)
    if len(pages) == 1:
        return None
    return PagedList(header, tuple(tuple(p) for p in pages), footer)


@dataclass
class _Entry:
    user_id: int
    pages: PagedList
    below: InlineKeyboardMarkup | None  # the reply's own buttons, kept under the page buttons
    where: tuple[int, int] | None = None  # (chat id, message id) once sent


@dataclass(frozen=True)
class PageView:
    """One page of a kept list, ready to show: its text and keyboard."""

    text: str
    keyboard: InlineKeyboardMarkup


class PageStore:
    """Paged lists by key, bound to their user and message.

    Each user keeps at most `per_user` lists (their own oldest forgotten first), so one user asking
    for lists again and again never expires another's pages; `capacity` bounds the whole store.
    """

    def __init__(self, capacity: int = 5_000, per_user: int = 50) -> None:
        self._entries: UserBoundStore[_Entry] = UserBoundStore(capacity=capacity, per_user=per_user)

    def keep(self, user_id: int, pages: PagedList, below: InlineKeyboardMarkup | None = None) -> str:
        """Keep a list for `user_id` (with the reply's own buttons, if any); returns its key."""
        key = secrets.token_urlsafe(9)
        self._entries.put(key, user_id, _Entry(user_id, pages, below))
        return key

    def sent_as(self, key: str, chat_id: int, message_id: int) -> None:
        """Record the message the list was sent as (only that message's buttons turn its pages)."""
        found = self._entries.get(key)
        if found is not None:
            found[1].where = (chat_id, message_id)

    def page(self, key: str, page: int) -> PageView:
        """Page `page` of the list kept under `key` (which must exist)."""
        found = self._entries.get(key)
        if found is None:
            raise KeyError(key)
        entry = found[1]
        keyboard = with_page_buttons(key, page, len(entry.pages.pages), entry.below)
        return PageView(entry.pages.text(page), keyboard)

    def turn(self, data: str, *, user_id: int, chat_id: int, message_id: int) -> PageView | str:
        """The page a tap asks for, or the answer for a tap that cannot be honoured."""
        match = PAGE_DATA.fullmatch(data)
        if match is None:
            return texts.PAGE_INVALID
        found = self._entries.get(match.group(1))
        entry = found[1] if found is not None else None
        if entry is None or entry.user_id != user_id or entry.where != (chat_id, message_id):
            return texts.PAGE_EXPIRED  # the same answer for someone else's list: nothing is revealed
        page = int(match.group(2))
        if not 1 <= page <= len(entry.pages.pages):
            return texts.PAGE_MISSING.format(pages=len(entry.pages.pages))
        return self.page(match.group(1), page)


def page_keyboard(key: str, page: int, pages: int) -> list[InlineKeyboardButton]:
    """The Previous / Next buttons of a page (only those that lead somewhere)."""
    buttons = []
    if page > 1:
        buttons.append(
            InlineKeyboardButton(texts.PAGE_PREVIOUS, callback_data=f"{PAGE_PREFIX}{key}:{page - 1}")
        )
    if page < pages:
        buttons.append(InlineKeyboardButton(texts.PAGE_NEXT, callback_data=f"{PAGE_PREFIX}{key}:{page + 1}"))
    return buttons


def with_page_buttons(
    key: str, page: int, pages: int, below: InlineKeyboardMarkup | None = None
) -> InlineKeyboardMarkup:
    """A keyboard with the page buttons on top and the reply's own buttons (if any) below."""
    rows = [page_keyboard(key, page, pages)]
    if below is not None:
        rows.extend(list(row) for row in below.inline_keyboard)
    return InlineKeyboardMarkup(rows)
