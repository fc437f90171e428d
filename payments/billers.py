"""Which biller the user means: exact name/alias/category first, then a fuzzy match (rapidfuzz).

Two billers scoring alike is a question for the user, never a guess.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz

from payments.errors import BillerAmbiguousError, BillerUnknownError

FUZZY_THRESHOLD = 82
AMBIGUITY_MARGIN = 6
NOISE_WORDS = {
    "my", "the", "bill", "bills", "invoice", "pay", "payment", "for", "to", "a", "an", "our", "this",
    "rechnung", "meine", "meinen", "die", "den", "der", "bezahlen", "zahlen", "please",
}  # fmt: skip


@dataclass(frozen=True)
class BillerCandidate:
    """A biller the user could mean, with the words that name it."""

    biller_id: int
    name: str
    category: str
    aliases: tuple[str, ...]


def normalize(text: str) -> str:
    """Lower-case, accents folded, punctuation and filler words removed."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    folded = re.sub(r"[^\w\s]", " ", folded)
    return " ".join(w for w in folded.split() if w not in NOISE_WORDS)


def match_biller(text: str, candidates: list[BillerCandidate]) -> BillerCandidate:
    """The one candidate `text` names; BillerUnknownError or BillerAmbiguousError otherwise."""
    query = normalize(text)
    if not query:
        raise BillerUnknownError(text=text)
    exact = [c for c in candidates if query in _names(c)]
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        raise BillerAmbiguousError(text=text, candidates=sorted(c.name for c in exact))
    scored = sorted(
        ((max(_score(query, name) for name in _names(c)), c) for c in candidates),
        key=lambda pair: pair[0],
        reverse=True,
    )
    good = [(score, c) for score, c in scored if score >= FUZZY_THRESHOLD]
    if not good:
        raise BillerUnknownError(text=text)
    best_score = good[0][0]
    close = [c for score, c in good if best_score - score <= AMBIGUITY_MARGIN]
    if len(close) > 1:
        raise BillerAmbiguousError(text=text, candidates=sorted(c.name for c in close))
    return good[0][1]


def _names(candidate: BillerCandidate) -> set[str]:
    return {
        normalize(candidate.name),
        normalize(candidate.category),
        *(normalize(a) for a in candidate.aliases),
    }


def _score(query: str, name: str) -> float:
    if not name:
        return 0.0
    # Whole-word containment ("stadtwerke berlin" ~ "stadtwerke") counts as a strong match.
    if re.search(rf"\b{re.escape(name)}\b", query) or re.search(rf"\b{re.escape(query)}\b", name):
        return 95.0
    return float(max(fuzz.ratio(query, name), fuzz.token_sort_ratio(query, name)))
