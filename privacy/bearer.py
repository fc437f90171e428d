"""The one detector of bearer material: signed links and secrets that act for whoever holds them.

A 3-D Secure challenge link (the sandbox bank page `/sandbox/3ds/<intent>?sig=…`, Stripe's hosted
`hooks.stripe.com` page, localstripe's `/_authenticate`), a PaymentIntent's client secret
(`pi_…_secret_…`), or any link carrying a `sig`/`signature`/`token`/`secret`/`key`-like query
parameter lets whoever reads it act as the customer. Such material is for the customer's own chat
only: audit rows never keep it, and staff views, transcripts and exports show a placeholder.

`mask_bearer_links(text)` replaces each such link or secret in a text; `scrub_bearer(value)` does
the same through a JSON-like value and also replaces the values of keys that name bearer material
(`client_secret`, `next_action_url`, `access_token`…). Erring towards masking is deliberate.

Standard library only and Python 3.10 compatible, like privacy.cards.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

BEARER_PLACEHOLDER = "[signed link removed]"
SECRET_PLACEHOLDER = "[secret removed]"

# Query parameters whose value authorises whoever holds the link.
_BEARER_PARAMS = frozenset(
    {
        "sig",
        "signature",
        "token",
        "access_token",
        "id_token",
        "refresh_token",
        "auth",
        "authorization",
        "secret",
        "client_secret",
        "key",
        "api_key",
        "apikey",
        "code",
        "otp",
        "password",
        "session",
        "x-amz-signature",
        "expires_signature",
    }
)
# Paths and hosts that are a challenge (or a step of one) whatever their query says.
_BEARER_PATHS = re.compile(r"/sandbox/3ds(?:/|$)|/_authenticate(?:/|$)|/3d_secure", re.IGNORECASE)
_BEARER_HOSTS = ("hooks.stripe.com",)
# Keys of a JSON-like value whose value is bearer material, whatever it looks like.
_BEARER_KEYS = frozenset(
    {
        "next_action_url",
        "next_action",
        "redirect_to_url",
        "use_stripe_sdk",
        "client_secret",
        "secret",
        "password",
        "signature",
        "sig",
        "authorization",
        "access_token",
        "refresh_token",
        "id_token",
    }
)

# An absolute link, or a path of a challenge page written without its host.
_LINK = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'`]+|(?<![\w/])/(?:sandbox/3ds|v1/payment_intents)/[^\s<>\"'`]+",
    re.IGNORECASE,
)
# A PaymentIntent or SetupIntent client secret on its own.
_CLIENT_SECRET = re.compile(r"\b(?:pi|seti)_[A-Za-z0-9]+_secret_[A-Za-z0-9]+\b")
# "sig=…", "token=…" outside a recognisable link (a pasted query string).
_BARE_PARAM = re.compile(
    r"(?<![\w-])("
    + "|".join(sorted((re.escape(p) for p in _BEARER_PARAMS), key=len, reverse=True))
    + r")=([^\s&\"'<>]{6,})",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?)]}"


def _is_bearer_link(link: str) -> bool:
    target = link if "://" in link or link.startswith("/") else "http://" + link
    try:
        parts = urlsplit(target)
    except ValueError:
        return True  # unparseable: err towards masking
    if _BEARER_PATHS.search(parts.path):
        return True
    host = (parts.hostname or "").lower()
    if any(host == h or host.endswith("." + h) for h in _BEARER_HOSTS):
        return True
    query = parse_qsl(parts.query, keep_blank_values=True) + parse_qsl(parts.fragment, keep_blank_values=True)
    return any(name.lower() in _BEARER_PARAMS for name, _ in query)


def _link(match: re.Match[str]) -> str:
    link = match.group()
    tail = ""
    while link and link[-1] in _TRAILING:  # sentence punctuation after the link is kept
        link, tail = link[:-1], link[-1] + tail
    return (BEARER_PLACEHOLDER if _is_bearer_link(link) else link) + tail


def _may_hold_bearer(text: str) -> bool:
    """False only when no pattern above can match: a link needs "/" (scheme, path) or "." ("www."),
    a client secret "_secret_", a bare parameter "=". Most strings of a turn (intent and action
    names, slot names) have none of them and skip the three regular expressions (issue 12, perf13)."""
    return "/" in text or "." in text or "=" in text or "_secret_" in text


def mask_bearer_links(text: str) -> str:
    """`text` with signed links, challenge links and client secrets replaced by placeholders."""
    if not text or not _may_hold_bearer(text):
        return text
    text = _LINK.sub(_link, text)
    text = _CLIENT_SECRET.sub(SECRET_PLACEHOLDER, text)
    return _BARE_PARAM.sub(lambda m: f"{m.group(1)}={SECRET_PLACEHOLDER}", text)


def is_bearer_key(key: str) -> bool:
    """Whether a JSON key names bearer material (its value is replaced whatever it holds)."""
    return key.lower() in _BEARER_KEYS


def scrub_bearer(value: Any) -> Any:
    """A deep copy of a JSON-like value without bearer material (see the module docstring)."""
    if isinstance(value, str):
        return mask_bearer_links(value)
    if isinstance(value, dict):
        return {
            key: (SECRET_PLACEHOLDER if value[key] else value[key])
            if isinstance(key, str) and is_bearer_key(key)
            else scrub_bearer(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub_bearer(item) for item in value]
    return value
