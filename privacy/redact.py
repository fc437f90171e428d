"""`redact(text)`: the one masking of personal data before a transcript is shown or exported.

Masked, each by a placeholder naming what was there (so reviewers still see the sentence's shape):
signed links and secrets that act for whoever holds them (privacy.bearer: a 3-D Secure challenge
link, a client secret, a link with a signature or token), card-like numbers (privacy.cards, the
project's one detector), IBANs (groups separated by spaces,
dashes, underscores, dots or slashes, or none; printed loosely too: "DE 89 …", groups of two to
five, double spaces), e-mail addresses (Unicode letters, plus-addressing, subdomains, and spelled
out: "anna(at)gmail(dot)com", "anna dot weber at gmail dot com", "gmail[.]com", "gmail . com"),
phone numbers (international "+44 20 7946 0958", "0049 …", national "(555) 123-4567", "0171
2345678"; two joined by " / ", one glued to a label "mob0770…" or to "ext") and person names. The
text is NFKC-normalised first (full-width "@"/digits and other compatibility forms become the plain
ones; the result is returned in that form) and invisible characters glued to a word are dropped.
Names come from spaCy token rules on a blank English pipeline: after "my name is", "I am"/"I'm",
"this is", "call me", "name:", titles ("Mr", "Dr"), greetings of a signature ("thanks, Anna Weber",
"regards\\nJohn", "- Maria"), "my full/first/last name is", "Account holder:"/"Recipient:", a line
that holds only a capitalised name at the end of a message, two or three capitalised words after
"to" in a message about money ("pay 50 EUR to Anna Weber") or before "here" at the start ("Anna
Weber here"), unless they are a company (a known biller of rasa_project/data/billers.yml, or a
company word: "British Gas", "Deutsche Telekom"; billers only in the database are not known here);
hyphenated names ("Anna-Lena Weber-Schmidt") are one word, and names written in lowercase are caught
after "my name is"/"name:" and, as two or three words ending the sentence, after "this is"/"I am"
(`_name_after_cue`). There is no statistical NER: no pretrained English spaCy pipeline is published
on the package registry by its authors (third-party re-uploads are not used in a payments product),
so names written elsewhere in a sentence without such a cue are not caught. Erring towards masking
is deliberate, as in cards.

Needs spaCy (app environment); `privacy.cards` stays standard library only for the Rasa process.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
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
# A dot may also be bracketed ("gmail[.]com") or spaced on both sides ("gmail . com").
_BRACKETED_DOT = _bracketed(r"\.")
_DOT = rf"(?:\.|{_SPELLED_DOT}|{_BRACKETED_DOT}|[ \t]+\.[ \t]+)"
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
# The same printed loosely: a space after the country code ("DE 89 3704 …"), groups of two to
# five, up to two separators between groups ("DE89  3704  0044", "DE89 370 400 440 …"). Groups
# after the first hold a digit or are all capitals, so a word after the IBAN stays.
_LOOSE_IBAN = re.compile(
    r"\b[A-Z]{2}[ ]?\d{2}(?:[ \-_./]{0,2}[A-Z0-9]{2,5})(?:[ \-_./]{1,2}(?:[A-Z]*\d[A-Z0-9]*|[A-Z]{2,5})){2,9}"
    r"(?![A-Za-z0-9])"
)
# A phone number: optional +/00 country code, digit groups separated by spaces, dots, dashes,
# slashes or parentheses, seven or more digits in all (money and dates have fewer, or their own shape).
# An extension may be glued on ("555-123-4567ext 12"), and a label before it ("mob07700900123").
_PHONE = re.compile(r"(?<![\w+])(?:\+|\b00|\()?\d[\d\s().\-/]{5,}\d(?:(?!\w)|(?=(?i:ext|x)))")
_LABELLED_PHONE = re.compile(
    r"\b(?:mob|mobile|tel|telephone|phone|ph|cell|fax|whatsapp|call|nr|no)\.?:?"
    r"((?:\+|00)?\d[\d\s().\-/]{5,}\d)(?:(?!\w)|(?=(?i:ext|x)))",
    re.IGNORECASE,
)
# Two numbers joined by a slash with spaces ("0171 2345679 / 030 1234567") are two numbers.
_NUMBER_JOIN = re.compile(r"\s+/\s*|\s*/\s+|\s{2,}|\s*;\s*")
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
    [
        {"LOWER": "my"},
        {"LOWER": {"IN": ["full", "first", "last", "real", "legal", "given", "family", "middle"]}, "OP": "?"},
        {"LOWER": {"IN": ["name", "names", "surname", "firstname", "lastname"]}},
        {"LOWER": {"IN": ["is", "'s", "\u2019s", ":"]}},
    ],
    [{"LOWER": "my"}, {"LOWER": {"IN": ["name's", "name\u2019s"]}}],
    [{"LOWER": "name"}, {"ORTH": ":"}],
    [
        {"LOWER": {"IN": ["account", "card"]}, "OP": "?"},
        {"LOWER": {"IN": ["holder", "owner", "beneficiary", "payee", "recipient"]}},
        {"ORTH": ":"},
    ],
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
_STRONG_CUES = frozenset(
    {"name", "names", "name's", "surname", "firstname", "lastname", "call", "mr", "mrs", "ms", "miss", "dr"}
    | {"prof", "mx"}
)
# Cues that name a payee or account holder: what follows may as well be a company ("Recipient:
# British Gas"), so a span made only of company words or a known biller is not a name there.
_PAYEE_CUES = frozenset({"holder", "owner", "beneficiary", "payee", "recipient"})
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
        if span is None:
            continue
        if any(t.lower_ in _PAYEE_CUES for t in doc[start:end]) and _company(text[span[0] : span[1]]):
            continue
        spans.append(span)
    return spans + _trailing_signature(text) + _payee_and_here_names(text)


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


# A company, not a person: a known biller (rasa_project/data/billers.yml) or a name holding a
# word companies have ("British Gas", "Thames Water", "Deutsche Telekom", "Octopus Energy").
_COMPANY_WORD_LIST = (
    "gas water electric electricity energy energie power strom telekom telecom telecoms media mobile "
    "broadband fibre fiber internet bank banking insurance versicherung council services service ltd "
    "limited gmbh ag inc plc llc co company group utilities utility stadtwerke wasserbetriebe netz "
    "network networks tv sky telefonica verwaltung hausverwaltung properties property housing homes "
    "association finance credit card cards loans mortgage pay payments bills phone heating oil fuel "
    "transport rail railway bahn airlines airways shop store market markets direct online international "
    "sparkasse volksbank commerzbank deutsche postbank amazon paypal netflix spotify apple google o2 eon"
)
_COMPANY_WORDS = frozenset(_COMPANY_WORD_LIST.split())
BILLERS_FILE = Path(__file__).resolve().parent.parent / "rasa_project" / "data" / "billers.yml"


@lru_cache(maxsize=1)
def _known_billers() -> frozenset[str]:
    """Every biller word, name and synonym of rasa_project/data/billers.yml, casefolded."""
    try:
        lines = BILLERS_FILE.read_text(encoding="utf-8").splitlines()
    except OSError:
        return frozenset()
    found: set[str] = set()
    for line in lines:
        stripped = line.strip()
        for prefix in ("- synonym:", "- lookup:", "- "):
            if stripped.startswith(prefix):
                value = stripped.removeprefix(prefix).strip().strip("\"'").casefold()
                if value:
                    found.add(value)
                    found.update(value.split())
                break
    return frozenset(found)


def _company(span: str) -> bool:
    words = [w.casefold() for w in _NAME_WORD.findall(span)]
    billers = _known_billers()
    return span.strip().casefold() in billers or any(w in _COMPANY_WORDS or w in billers for w in words)


# "pay 50 EUR to Anna Weber", "send it to Anna Weber": two or three capitalised words after "to"
# in a message about money; "Anna Weber here, …": the same at the start of the message (or after
# a greeting) before "here". Never a company (`_company`) or a word of the chat ("to Pay Now").
_PAYMENT_WORD = re.compile(
    r"\b(?:pay|paid|paying|send|sent|sending|transfer|transferred|wire|wired|give|owe|owed|refund|money)\b",
    re.IGNORECASE,
)
_CAPITALISED_RUN = rf"({_CAPITALISED_WORD}(?:[ \t]+{_CAPITALISED_WORD}){{1,2}})"
_PAYEE = re.compile(rf"\bto[ \t]+{_CAPITALISED_RUN}(?=[ \t]*(?:$|[,.;:!?)\n]|[ \t]+[a-z0-9]))")
_HERE = re.compile(
    rf"(?:^|\n|(?:hi|hello|hey|hallo|morning)[ \t,!]+)[ \t]*{_CAPITALISED_RUN}[ \t]+here\b", re.IGNORECASE
)


def _payee_and_here_names(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    candidates = list(_HERE.finditer(text))
    if _PAYMENT_WORD.search(text):
        candidates += list(_PAYEE.finditer(text))
    for match in candidates:
        run = match.group(1)
        words = run.split()
        if not all(_capitalised(word) for word in words):
            continue  # _HERE is case-insensitive for its greeting only
        if any(word.casefold() in _NAME_STOPS for word in words) or _company(run):
            continue
        spans.append((match.start(1), match.end(1)))
    return spans


def _loose_iban(value: str) -> bool:
    """A loosely printed IBAN: 12 to 30 letters and digits after the country code and check
    digits, 10 or more of them digits, and the first two letters capitals."""
    body = re.sub(r"[^A-Za-z0-9]", "", value)[4:]
    return 12 <= len(body) <= 30 and sum(c.isdigit() for c in body) >= 10


def _phone_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    candidates = [(m.start(), m.end()) for m in _PHONE.finditer(text)]
    candidates += [(m.start(1), m.end(1)) for m in _LABELLED_PHONE.finditer(text)]
    for start, end in candidates:
        spans.extend(_phone_parts(text, start, end))
    return _merge(spans)


def _phone_parts(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The phone numbers in text[start:end]: itself, or, when it holds too many digits for one,
    each of its parts between slashes, semicolons or wide gaps."""
    value = text[start:end].strip()
    digits = sum(ch.isdigit() for ch in value)
    if digits > _MAX_PHONE_DIGITS:
        parts: list[tuple[int, int]] = []
        position = start
        for join in _NUMBER_JOIN.finditer(text, start, end):
            parts.extend(_one_phone(text, position, join.start()))
            position = join.end()
        if position == start:
            return []
        return parts + _one_phone(text, position, end)
    return _one_phone(text, start, end)


def _one_phone(text: str, start: int, end: int) -> list[tuple[int, int]]:
    value = text[start:end].strip()
    digits = sum(ch.isdigit() for ch in value)
    if not _MIN_PHONE_DIGITS <= digits <= _MAX_PHONE_DIGITS or _DATE_LIKE.match(value):
        return []
    if re.fullmatch(r"\d{1,3}(?:[,.]\d{3})+(?:[.,]\d{1,2})?", value):
        return []  # 1,234,567.89: an amount
    return [(start, end)]


def _replace(
    text: str, spans: list[tuple[int, int]], placeholder: str, removed: list[tuple[str, str]]
) -> str:
    for start, end in sorted(spans, reverse=True):
        removed.append((text[start:end], placeholder))
        text = text[:start] + placeholder + text[end:]
    return text


# Strings `redact` returned unchanged (nothing personal found): a turn's details repeat the same
# action names, intents, event types and bot templates on every turn, and each costs ~0.1-0.8 ms to
# check again. Only such strings are remembered, so the memo holds nothing redaction would have
# removed (a forgotten user's data cannot linger here); bounded, emptied when full.
_KNOWN_CLEAN: set[str] = set()
_KNOWN_CLEAN_MAX_ITEMS = 8192
_KNOWN_CLEAN_MAX_CHARS = 1024


def redact(text: str) -> str:
    """`text` with signed links, card numbers, e-mail addresses, IBANs, phone numbers and names masked."""
    if text in _KNOWN_CLEAN:
        return text
    result = _redact(text, [])
    if result == text and len(text) <= _KNOWN_CLEAN_MAX_CHARS:
        if len(_KNOWN_CLEAN) >= _KNOWN_CLEAN_MAX_ITEMS:
            _KNOWN_CLEAN.clear()
        _KNOWN_CLEAN.add(text)
    return result


def removed_fragments(text: str) -> list[tuple[str, str]]:
    """What `redact(text)` takes out of the text: (fragment as typed after normalising, placeholder)."""
    removed: list[tuple[str, str]] = []
    _redact(text, removed)
    return removed


def _redact(text: str, removed: list[tuple[str, str]]) -> str:
    if not text:
        return text
    text = _normalise(text)
    text = mask_bearer_links(text)  # first: a link's signature must not be read as a phone number
    cards: list[str] = []
    text = redact_card_numbers(text, cards)
    removed.extend((card, CARD_PLACEHOLDER) for card in cards)

    def masked(match: re.Match[str], placeholder: str) -> str:
        removed.append((match.group(), placeholder))
        return placeholder

    text = _EMAIL.sub(lambda m: masked(m, EMAIL_PLACEHOLDER) if _email(m) != m.group() else m.group(), text)
    text = _IBAN.sub(
        lambda m: masked(m, IBAN_PLACEHOLDER) if sum(c.isdigit() for c in m.group()) >= 8 else m.group(), text
    )
    text = _LOOSE_IBAN.sub(
        lambda m: masked(m, IBAN_PLACEHOLDER) if _loose_iban(m.group()) else m.group(), text
    )
    text = _replace(text, _phone_spans(text), PHONE_PLACEHOLDER, removed)
    return _replace(text, _merge(_name_spans(text)), NAME_PLACEHOLDER, removed)


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


# The words of a removed fragment that are masked on their own wherever they appear in the
# structured data of the same turn ("Weber" of "Anna Weber"): two characters or more.
_FRAGMENT_WORD = re.compile(r"[^\W_]{2,}")


def _fragment_pattern(removed: Iterable[tuple[str, str]]) -> tuple[re.Pattern[str], dict[str, str]] | None:
    """One pattern for every removed fragment and each of its words, and the placeholder of each."""
    placeholders: dict[str, str] = {}
    for fragment, placeholder in removed:
        for piece in [fragment.strip(), *_FRAGMENT_WORD.findall(fragment)]:
            if piece:
                placeholders.setdefault(piece.casefold(), placeholder)
    if not placeholders:
        return None
    alternatives = "|".join(re.escape(piece) for piece in sorted(placeholders, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE), placeholders


def redact_value(value: Any, removed: Iterable[tuple[str, str]] = ()) -> Any:
    """A deep copy of a JSON-like value with every string passed through `redact`.

    `removed` (from `removed_fragments` of the turn's message) is what the redaction of the
    message took out: those fragments, and each of their words, are masked in every string too,
    whether or not `redact` would recognise them without their sentence (an entity value "Anna
    Weber" extracted from "my name is Anna Weber" has no cue of its own).
    """
    compiled = _fragment_pattern(removed)

    def one(item: Any) -> Any:
        if isinstance(item, str):
            text = redact(item)
            if compiled is None:
                return text
            pattern, placeholders = compiled
            return pattern.sub(lambda m: placeholders.get(m.group().casefold(), NAME_PLACEHOLDER), text)
        if isinstance(item, dict):
            return {key: one(child) for key, child in item.items()}
        if isinstance(item, list | tuple):
            return [one(child) for child in item]
        return item

    return one(value)
