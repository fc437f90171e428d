"""Cutting a list reply into pages (bot.pages): what is paged, what is left alone, nothing lost."""

from __future__ import annotations

from bot import texts
from bot.pages import PAGE_ITEMS, paged


def _list(items: int, width: int = 40) -> str:
    return "Here's what you owe:\n" + "\n".join(f"• item {n:03d} " + "x" * width for n in range(items))


def test_a_short_list_or_plain_text_is_not_paged() -> None:
    assert paged(_list(PAGE_ITEMS)) is None
    assert paged("just a sentence\n" * 300) is None


def test_every_item_is_on_exactly_one_page_under_the_header() -> None:
    listing = paged(_list(95))
    assert listing is not None and len(listing.pages) == 10
    items = [item for page in listing.pages for item in page]
    assert items == [line for line in _list(95).splitlines() if line.startswith("• ")]
    assert listing.text(3).startswith("Here's what you owe:\n• item 020")
    assert texts.PAGE_OF.format(page=3, pages=10) in listing.text(3)


def test_long_items_make_shorter_pages_that_fit_a_message() -> None:
    listing = paged(_list(30, width=900))
    assert listing is not None
    assert all(len(listing.text(n)) <= 4096 for n in range(1, len(listing.pages) + 1))
    assert sum(len(page) for page in listing.pages) == 30


def test_an_item_too_long_for_a_page_is_never_cut() -> None:
    assert paged(_list(12) + "\n• " + "y" * 5000) is None  # sent split into messages instead


def test_an_assistant_payload_that_looks_like_a_page_button_travels_under_a_key() -> None:
    from bot.rendering import PayloadStore

    store = PayloadStore()
    data = store.callback_data(7, "pg:AAAAAAAAAAAA:2")
    assert data.startswith("k:") and store.resolve(7, data) == "pg:AAAAAAAAAAAA:2"
