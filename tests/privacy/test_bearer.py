"""privacy.bearer: signed links and secrets are masked wherever staff read; plain links stay."""

from __future__ import annotations

import random

import pytest

from payments.challenge import challenge_url
from privacy import bearer
from privacy.bearer import BEARER_PLACEHOLDER, SECRET_PLACEHOLDER, mask_bearer_links, scrub_bearer
from privacy.redact import redact, redact_value

LINK = challenge_url("https://pay.example.com", b"k" * 32, "pi_3dsLeak01")
SIG = LINK.rsplit("sig=", 1)[1]


@pytest.mark.parametrize(
    "text",
    [
        f"Please open this link to finish: {LINK}.",
        f"({LINK})",
        LINK.removeprefix("https://pay.example.com"),
        "see https://hooks.stripe.com/3d_secure_2/hosted?merchant=acct_1&payment_intent=pi_1",
        "https://example.com/reset?token=abcdef123456",
        "https://example.com/a?x=1&Signature=abcdef123456",
        "www.example.com/login?access_token=abcdef123456",
        "http://127.0.0.1:8420/v1/payment_intents/pi_1/_authenticate",
        f"pasted: sig={SIG}",
        "secret pi_3Ab12_secret_Xy98zz",
    ],
)
def test_bearer_material_is_masked(text: str) -> None:
    masked = mask_bearer_links(text)
    assert SIG not in masked and "abcdef123456" not in masked and "Xy98zz" not in masked
    assert "hooks.stripe.com" not in masked and "_authenticate" not in masked
    assert BEARER_PLACEHOLDER in masked or SECRET_PLACEHOLDER in masked
    assert SIG not in redact(text)  # the one redaction for views and exports masks it too


def test_plain_links_and_punctuation_stay() -> None:
    text = "Docs at https://example.com/help?page=2, and www.example.org."
    assert mask_bearer_links(text) == text
    assert mask_bearer_links(f"open {LINK}.") == f"open {BEARER_PLACEHOLDER}."


def test_scrub_replaces_bearer_keys_and_masks_strings() -> None:
    value = {
        "id": "pi_1",
        "client_secret": "pi_1_secret_abc",
        "next_action": {"type": "redirect_to_url", "redirect_to_url": {"url": LINK}},
        "notes": [f"link {LINK}"],
        "amount": 8420,
    }
    scrubbed = scrub_bearer(value)
    assert SIG not in str(scrubbed) and "pi_1_secret_abc" not in str(scrubbed)
    assert scrubbed["id"] == "pi_1" and scrubbed["amount"] == 8420
    assert SIG not in str(redact_value(value["notes"]))


def test_the_quick_check_never_skips_a_string_a_pattern_would_change() -> None:
    """`_may_hold_bearer` only skips strings none of the three patterns can match (perf13)."""

    def slow(text: str) -> str:
        text = bearer._LINK.sub(bearer._link, text)
        text = bearer._CLIENT_SECRET.sub(bearer.SECRET_PLACEHOLDER, text)
        return bearer._BARE_PARAM.sub(lambda m: f"{m.group(1)}={bearer.SECRET_PLACEHOLDER}", text)

    pieces = [
        "https://",
        "www.",
        "WWW.",
        "/sandbox/3ds/",
        "pi_1Ab_secret_xyz",
        "sig=",
        "token=abcdefgh",
        "hooks.stripe.com",
        " ",
        "a",
        "Z",
        "9",
        "_",
        "-",
        ".",
        "/",
        "=",
        "?",
        "&",
        "\u017f",  # long s: folds to "s" under IGNORECASE
        "é",
        "\n",
    ]
    rng = random.Random(12)
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 9)))
        assert bearer.mask_bearer_links(text) == slow(text), text
