"""`redact(text)`: the one masking of personal data before a transcript is shown or exported.

Masked, each by a placeholder naming what was there (so reviewers still see the sentence's shape):
signed links and secrets that act for whoever holds them (privacy.bearer: a 3-D Secure challenge
link, a client secret, a link with a signature or token), card-like numbers (privacy.cards, the
project's one detector), IBANs (groups separated by spaces,
dashes, underscores, dots or slashes, or none), e-mail addresses (Unicode letters, plus-addressing,
subdomains, and spelled out: "anna(at)gmail(dot)com", "anna dot weber at gmail dot com"), phone
numbers (international "+44 20 7946 0958", "0049 …", national "(555) 123-4567", "0171 2345678") and
person names. The text is NFKC-normalised first (full-width "@"/digits and other compatibility
forms become the plain ones; the result is returned in that form) and invisible characters glued to
a word are dropped. Names come from spaCy token rules on a blank English pipeline: after "my name
is", "I am"/"I'm", "this is", "call me", "name:", titles ("Mr", "Dr"), greetings of a signature
("thanks, Anna Weber", "regards\\nJohn", "- Maria") and a line that holds only a capitalised name at
the end of a message; hyphenated names ("Anna-Lena Weber-Schmidt") are one word, and names written
in lowercase are caught after "my name is"/"name:" and, as two or three words ending the sentence,
after "this is"/"I am" (`_name_after_cue`). There is no statistical NER: no pretrained English
spaCy pipeline is published on the package registry by its authors (third-party re-uploads are not
used in a payments product), so names written elsewhere in a sentence without such a cue are not
caught. Erring towards masking is deliberate, as in cards.

Needs spaCy (app environment); `privacy.cards` stays standard library only for the Rasa process.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

from privacy.bearer import BEARER_PLACEHOLDER, SECRET_PLACEHOLDER, mask_bearer_links
from privacy.cards import CARD_PLACEHOLDER, redact_card_numbers

EMAIL_PLACEHOLDER = "[email]"
IBAN_PLACEHOLDER = "[iban]"
PHONE_PLACEHOLDER = "[phone]"
NAME_PLACEHOLDER = "[name]"
PLACEHOLDERS = (
    CARD_PLACEHOLDER,
    EMAIL_PLACEHOLDER,
    IBAN_PLACEHOLDER,
    PHONE_PLACEHOLDER,
    NAME_PLACEHOLDER,
    BEARER_PLACEHOLDER,
    SECRET_PLACEHOLDER,
)

# Text is normalised first (`_normalise`): NFKC folds full-width and other compatibility forms
# (full-width "@" U+FF20, "." U+FF0E and digits, no-break spaces) into the plain ones the patterns know, and
# invisible format characters glued to a word ("anna\u200b@…", soft hyphens) are dropped.
_INVISIBLE = "\u00ad\u180e\u200b\u200c\u200d\u2060\ufeff"
_GLUED_INVISIBLE = re.compile(rf"(?<=[\w@.])[{_INVISIBLE}]+|[{_INVISIBLE}]+(?=[\w@.])")

# E-mail addresses, Unicode letters allowed (IDN domains, "josé@…"), and their spelled-out forms:
# "@" or "(at)"/"[at]"/"{at}"/"<at>" (spaces optional) or " at " (spaces needed); "." or
# "(dot)"/"[dot]"… or " dot ", in the domain and between the words of the local part.


def _bracketed(word: str) -> str:
    return r"\s*[(\[{<]\s*" + word + r"\s*[)\]}>]\s*"


_AT_LITERAL = r"\s*@\s*|" + _bracketed("at")
_AT = rf"(?:{_AT_LITERAL}|\s+at\s+)"
_SPELLED_DOT = rf"(?:{_bracketed('dot')}|\s+dot\s+)"
_DOT = rf"(?:\.|{_SPELLED_DOT})"
_LOCAL_PART = r"[\w.!#$%&'*+/=?^`{|}~-]+"
_EMAIL = re.compile(
    rf"(?P<local>{_LOCAL_PART}(?:{_SPELLED_DOT}{_LOCAL_PART})*)(?P<at>{_AT})"
    rf"[\w-]+(?:{_DOT}[\w-]+)*{_DOT}[^\W\d_]{{2,}}(?![\w-])",
    re.IGNORECASE,
)
_AT_LITERAL_ONLY = re.compile(rf"(?:{_AT_LITERAL})", re.IGNORECASE)
# Before a bare " at " ("pay 40 at vodafone.com") the word must look like a mailbox, not chat.
_NOT_MAILBOX_WORDS = (
    "pay paid paying pays buy bought buying order ordered shop shopped shopping book booked sign "
    "signed log logged look looking me us him her them it that this one online bill bills rent am "
    "is are was were be been "
    "arrive arrived arriving here there home work stay staying live living meet met"
)
_NOT_MAILBOX = frozenset(_NOT_MAILBOX_WORDS.split())


def _email(match: re.Match[str]) -> str:
    if _AT_LITERAL_ONLY.fullmatch(match.group("at")):
        return EMAIL_PLACEHOLDER
    last = re.split(r"[^\w'-]+", match.group("local").lower())[-1]
    plain_word = not last or last in _NOT_MAILBOX or last in _NOT_NAMES or not re.search(r"[^\W\d_]", last)
    return match.group() if plain_word else EMAIL_PLACEHOLDER


# Two letters, two check digits, then 11-30 letters/digits in groups separated by spaces, dashes,
# underscores, dots or slashes (or nothing).
_IBAN = re.compile(
    r"\b[A-Z]{2}\d{2}(?:[ \-_./]?[A-Z0-9]{4}){2,7}(?:[ \-_./]?[A-Z0-9]{1,4})?(?![A-Z0-9])", re.IGNORECASE
)
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
# Lowercase words of the payments chat that end a lowercase name run ("this is vodafone bill");
# capitalised, some are names ("I am Bill Gates").
_CHAT_WORD_LIST = (
    "bill bills rent payment payments phone electricity gas water internet broadband mobile invoice "
    "amount money card account balance deposit transfer insurance tax council loan mortgage fee "
    "fees subscription plan refund charge charges debt due overdue total pay paid half month week "
    "too"
)
_CHAT_WORDS = frozenset(_CHAT_WORD_LIST.split())
_NAME_STOPS = _NOT_NAMES | _CHAT_WORDS
_CUES: tuple[list[dict[str, Any]], ...] = (
    [{"LOWER": "my"}, {"LOWER": {"IN": ["name", "names"]}}, {"LOWER": {"IN": ["is", "'s", "\u2019s", ":"]}}],
    [{"LOWER": "my"}, {"LOWER": {"IN": ["name's", "name\u2019s"]}}],
    [{"LOWER": "name"}, {"ORTH": ":"}],
    [{"LOWER": "i"}, {"LOWER": {"IN": ["am", "'m", "m", "\u2019m"]}}],
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


_JOINERS = "'\u2019\\-\u2010\u2011"
_NAME_WORD = re.compile(rf"[^\W\d_]+(?:[{_JOINERS}][^\W\d_]+)*")
# The next word after the cue or the previous name word: spaces or tabs between, never a line break.
_NEXT_WORD = re.compile(rf"[ \t]*({_NAME_WORD.pattern})")
_CUE_GAP = re.compile(r"[ \t,:]*")
# What may follow a name written in lowercase: the end, punctuation, a line break.
_NAME_END = re.compile(r"[ \t]*(?:$|[,.;:!?)\n\r])")
# Lowercase words that read as ordinary chat after "this is"/"I am" ("this is taking forever").
_ORDINARY_ENDINGS = ("ing", "ed", "ly", "ous", "ful", "ive", "able", "ible", "less", "ish", "ic", "al")


def _words_after(text: str, position: int) -> list[re.Match[str]]:
    """Up to _MAX_NAME_WORDS name-like words from `position` (stops at a non-name word)."""
    words: list[re.Match[str]] = []
    gap = _CUE_GAP.match(text, position)
    position = gap.end() if gap else position
    while len(words) < _MAX_NAME_WORDS:
        match = _NEXT_WORD.match(text, position)
        if match is None or len(match.group(1)) < 2 or match.group(1).lower() in _NOT_NAMES:
            break
        if match.group(1) in _CHAT_WORDS:
            break
        if match.end() < len(text) and (text[match.end()].isalnum() or text[match.end()] == "_"):
            break  # "anna2": not a name word
        words.append(match)
        position = match.end()
    return words


def _before_chat_word(text: str, position: int) -> bool:
    """Whether the next word is one no name has ("… anna weber and I want to pay")."""
    match = _NEXT_WORD.match(text, position)
    return match is not None and match.group(1).lower() in _NAME_STOPS


def _ordinary(word: str) -> bool:
    return len(word) > 4 and word.lower().endswith(_ORDINARY_ENDINGS)


def _name_after_cue(text: str, position: int, strong: bool) -> tuple[int, int] | None:
    """The span of the name right after a cue ending at `position`, if one is there.

    Capitalised words are names after any cue ("I am Anna Weber"). Lowercase words are names
    after a strong cue ("my name is anna weber", "Name: anna") when they run up to the end of the
    message, punctuation or a word no name has ("and", "pay"); after a weak cue ("this is anna
    weber") only as two or three words up to the end or punctuation that do not read as chat
    ("this is taking forever" stays; "this is anna weber and …" is not caught). Otherwise a
    strong cue masks its first word alone.
    """
    words = _words_after(text, position)
    if not words:
        return None
    capitalised = 0
    for index, word in enumerate(words):
        if not (_capitalised(word.group(1)) or (strong and index == 0)):
            break
        capitalised = index + 1
    lowercase_run = 0
    for count in range(len(words), 0, -1):  # the longest run that ends where a name may end
        end = words[count - 1].end()
        if _NAME_END.match(text, end) or (strong and _before_chat_word(text, end)):
            lowercase_run = count
            break
    if not strong and (lowercase_run < 2 or any(_ordinary(w.group(1)) for w in words[:lowercase_run])):
        lowercase_run = 0
    taken = max(capitalised, lowercase_run)
    if taken == 0:
        return None
    return words[0].start(1), words[taken - 1].end(1)


def _name_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of person names found after a cue, and of a signature line."""
    nlp, matcher = _nlp()
    doc = nlp(text)
    spans: list[tuple[int, int]] = []
    for _, start, end in matcher(doc):
        strong = any(t.lower_.strip(".") in _STRONG_CUES for t in doc[start:end])
        cue_end = doc[end - 1].idx + len(doc[end - 1].text)
        span = _name_after_cue(text, cue_end, strong)
        if span is not None:
            spans.append(span)
    return spans + _trailing_signature(text)


_CAPITALISED_WORD = rf"[A-ZÀ-Þ][^\W\d_]*(?:[{_JOINERS}][^\W\d_]+)*"
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
    """`text` with signed links, card numbers, e-mail addresses, IBANs, phone numbers and names masked."""
    if not text:
        return text
    text = _normalise(text)
    text = mask_bearer_links(text)  # first: a link's signature must not be read as a phone number
    text = redact_card_numbers(text)
    text = _EMAIL.sub(_email, text)
    text = _IBAN.sub(
        lambda m: IBAN_PLACEHOLDER if sum(c.isdigit() for c in m.group()) >= 8 else m.group(), text
    )
    text = _replace(text, _phone_spans(text), PHONE_PLACEHOLDER)
    return _replace(text, _merge(_name_spans(text)), NAME_PLACEHOLDER)


def _normalise(text: str) -> str:
    """NFKC, without the invisible characters glued to a word (see `_GLUED_INVISIBLE`)."""
    return _GLUED_INVISIBLE.sub("", unicodedata.normalize("NFKC", text))


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
