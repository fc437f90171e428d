"""attack15: a receipt's time is ambiguous in the hour clocks go back.

Receipts show the wall-clock time and the zone name, without the offset: on 26 Oct 2025 in Berlin,
a payment at 00:30 UTC and one at 01:30 UTC both read "26 Oct 2025, 02:30 (Europe/Berlin)".
"""

from __future__ import annotations

from datetime import UTC, datetime

from payments.dates import format_moment


def test_two_moments_an_hour_apart_read_differently_when_clocks_go_back() -> None:
    first = format_moment(datetime(2025, 10, 26, 0, 30, tzinfo=UTC), timezone="Europe/Berlin", locale="en_IE")
    second = format_moment(
        datetime(2025, 10, 26, 1, 30, tzinfo=UTC), timezone="Europe/Berlin", locale="en_IE"
    )
    assert first != second, first
