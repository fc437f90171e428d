"""`redact(text)`: the one masking of personal data before a transcript is shown or exported.

Masked, each by a placeholder naming what was there (so reviewers still see the sentence's shape):
card-like numbers (privacy.cards, the project's one detector), IBANs (with or without spaces),
e-mail addresses (plus-addressing, subdomains), phone numbers (international "+44 20 7946 0958",
"0049 …", national "(555) 123-4567", "0171 2345678") and person names. Names come from spaCy
token rules on a blank English pipeline: after "my name is", "I am"/"I'm", "this is", "call me",
"name:", titles ("Mr", "Dr"), greetings of a signature ("thanks, Anna Weber", "regards\\nJohn",
"- Maria") and a line that holds only a capitalised name at the end of a message. There is no
statistical NER: no pretrained English spaCy pipeline is published on the package registry by its
authors (third-party re-uploads are not used in a payments product), so names written elsewhere in
a sentence without such a cue are not caught. Erring towards masking is deliberate, as in cards.

Needs spaCy (app environment); `privacy.cards` stays standard library only for the Rasa process.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from privacy.cards import CARD_PLACEHOLDER, redact_card_numbers

EMAIL_PLACEHOLDER = "[email]"
IBAN_PLACEHOLDER = "[iban]"
PHONE_PLACEHOLDER = "[phone]"
NAME_PLACEHOLDER = "[name]"
PLACEHOLDERS = (CARD_PLACEHOLDER, EMAIL_PLACEHOLDER, IBAN_PLACEHOLDER, PHONE_PLACEHOLDER, NAME_PLACEHOLDER)

_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+(?:\s*@\s*|\s+(?:at|\[at\]|\(at\))\s+)"
    r"[A-Za-z0-9-]+(?:(?:\.|\s+(?:dot|\[dot\]|\(dot\))\s+)[A-Za-z0-9-]+)*"
    r"(?:\.|\s+(?:dot|\[dot\]|\(dot\))\s+)[A-Za-z]{2,}",
    re.IGNORECASE,
)
# Two letters, two check digits, then 11-30 letters/digits in groups separated by spaces or dashes.
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ \-]?[A-Z0-9]{4}){2,7}(?:[ \-]?[A-Z0-9]{1,4})?\b", re.IGNORECASE)
# A phone number: optional +/00 country code, digit groups separated by spaces, dots, dashes,
# slashes or parentheses, seven or more digits in all (money and dates have fewer, or their own shape).
_PHONE = re.compile(r"(?<![\w+])(?:\+|\b00|\()?\d[\d\s().\-/]{5,}\d(?!\w)")
_DATE_LIKE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")
_MIN_PHONE_DIGITS = 7
_MAX_PHONE_DIGITS = 15

# Words that follow a cue capitalised (sentence start, sign-offs) but are not names.
_NOT_NAME_WORDS = (
    "a an the not so very just still already also really here there back sorry sure fine good "
    "ok okay late trying going looking wondering calling writing paying asking having done "
    "ready new unable able glad happy afraid confused unsure worried away out on in at with "
    "from about interested english german french customer client user tenant owner i me my you "
    "your it its this that and or but to for of please pls thanks thank cheers regards bye "
    "goodbye hello hi hey yes no yeah nope today tomorrow yesterday later now when if what why "
    "how who where again all everyone team bot paychat sir madam there's "
)
_NOT_NAMES = frozenset(_NOT_NAME_WORDS.split())
_CUES: tuple[list[dict[str, Any]], ...] = (
    [{"LOWER": "my"}, {"LOWER": {"IN": ["name", "names"]}}, {"LOWER": {"IN": ["is", "'s", ":"]}}],
    [{"LOWER": "my"}, {"LOWER": "name's"}],
    [{"LOWER": "name"}, {"ORTH": ":"}],
    [{"LOWER": "i"}, {"LOWER": {"IN": ["am", "'m", "m"]}}],
    [{"LOWER": {"IN": ["i'm", "im", "i\u2019m"]}}],
    [{"LOWER": "this"}, {"LOWER": "is"}],
    [{"LOWER": "call"}, {"LOWER": "me"}],
    [{"LOWER": {"IN": ["signed", "sincerely", "regards", "cheers", "thanks", "thx", "best", "yours"]}}],
    [{"LOWER": "thank"}, {"LOWER": "you"}],
    [
        {
            "LOWER": {
                "IN": ["mr", "mrs", "ms", "miss", "dr", "prof", "mx", "mr.", "mrs.", "ms.", "dr.", "prof."]
            }
        },
        {"ORTH": ".", "OP": "?"},
    ],
    [{"LOWER": {"IN": ["dear", "hi", "hello", "hey"]}}],
)
# Cues after which a lowercase word is a name too (people type "my name is anna").
_STRONG_CUES = frozenset({"name", "names", "name's", "call", "mr", "mrs", "ms", "miss", "dr", "prof", "mx"})
_MAX_NAME_WORDS = 3


@lru_cache(maxsize=1)
def _nlp() -> Any:
    """A blank English spaCy pipeline and the name-cue Matcher (built once per process)."""
    import spacy
    from spacy.matcher import Matcher

    nlp = spacy.blank("en")
    matcher = Matcher(nlp.vocab)
    matcher.add("NAME_CUE", list(_CUES))
    return nlp, matcher


def _capitalised(text: str) -> bool:
    return text[0].isupper() and (not text.isupper() or len(text) > 2)


_NAME_WORD = re.compile(r"[^\W\d_]+(?:['\u2019\-][^\W\d_]+)*")


def _name_word(token: Any) -> bool:
    text = token.text
    return bool(_NAME_WORD.fullmatch(text)) and len(text) >= 2 and token.lower_ not in _NOT_NAMES


def _skip_space_and_colon(doc: Any, position: int) -> int:
    while position < len(doc) and (doc[position].is_space or doc[position].text in {",", ":"}):
        position += 1
    return position


def _name_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of person names found after a cue, and of a signature line."""
    nlp, matcher = _nlp()
    doc = nlp(text)
    spans: list[tuple[int, int]] = []
    for _, start, end in matcher(doc):
        strong = any(t.lower_.strip(".") in _STRONG_CUES for t in doc[start:end])
        position = _skip_space_and_colon(doc, end)
        words: list[Any] = []
        while position < len(doc) and len(words) < _MAX_NAME_WORDS and _name_word(doc[position]):
            token = doc[position]
            first_lowercase_allowed = strong and not words
            if not (_capitalised(token.text) or first_lowercase_allowed):
                break
            words.append(token)
            position += 1
            if not _capitalised(token.text):
                break  # "my name is anna and …": one lowercase word only
        if words:
            spans.append((words[0].idx, words[-1].idx + len(words[-1].text)))
    return spans + _trailing_signature(text)


_CAPITALISED_WORD = r"[A-ZÀ-Þ][^\W\d_]*(?:['\u2019\-][^\W\d_]+)*"
_NAME_LINE = rf"({_CAPITALISED_WORD}(?:[ \t]+{_CAPITALISED_WORD}){{0,2}})[ \t.!]*$"
_SIGNATURE_LINE = re.compile(r"(?:^|\n)[ \t\-\u2014\u2013~]*" + _NAME_LINE)
_DASH_SIGNATURE = re.compile(r"\s[-\u2014\u2013~]\s*" + _NAME_LINE)


def _trailing_signature(text: str) -> list[tuple[int, int]]:
    """A last line that is only a capitalised name ("…\\nAnna Weber", "… - Maria")."""
    match = _SIGNATURE_LINE.search(text.rstrip())
    if match is None:
        dash = _DASH_SIGNATURE.search(text)
        if dash is None:
            return []
        match = dash
    elif "\n" not in text.strip():
        return []
    if any(word.lower().strip(".") in _NOT_NAMES for word in match.group(1).split()):
        return []
    return [(match.start(1), match.end(1))]


def _phone_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _PHONE.finditer(text):
        value = match.group().strip()
        digits = sum(ch.isdigit() for ch in value)
        if not _MIN_PHONE_DIGITS <= digits <= _MAX_PHONE_DIGITS or _DATE_LIKE.match(value):
            continue
        if re.fullmatch(r"\d{1,3}(?:[,.]\d{3})+(?:[.,]\d{1,2})?", value):
            continue  # 1,234,567.89: an amount
        spans.append((match.start(), match.end()))
    return spans


def _replace(text: str, spans: list[tuple[int, int]], placeholder: str) -> str:
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + placeholder + text[end:]
    return text


def redact(text: str) -> str:
    """`text` with card numbers, e-mail addresses, IBANs, phone numbers and person names masked."""
    if not text:
        return text
    text = redact_card_numbers(text)
    text = _EMAIL.sub(EMAIL_PLACEHOLDER, text)
    text = _IBAN.sub(
        lambda m: IBAN_PLACEHOLDER if sum(c.isdigit() for c in m.group()) >= 8 else m.group(), text
    )
    text = _replace(text, _phone_spans(text), PHONE_PLACEHOLDER)
    return _replace(text, _merge(_name_spans(text)), NAME_PLACEHOLDER)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(set(spans)):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def redact_value(value: Any) -> Any:
    """A deep copy of a JSON-like value with every string passed through `redact`."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    return value
