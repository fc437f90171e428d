"""The review queue and staff labels.

A user message enters the queue when the model was unsure (intent confidence under the threshold,
TUNING_REVIEW_LOW_CONFIDENCE), fell back (nlu_fallback or a fallback action), or the user's next
message corrected it ("no, the phone bill", "I meant the rent"). Messages are grouped by their
normalised redacted text and ranked by how often they occur. Staff label a message with the right
intent and entity spans (offsets into the redacted text they saw); each label keeps who made it and
when, one per reviewer and text, and labels that disagree are shown as a conflict.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import ConversationTurn, ReviewLabel, utcnow
from privacy.redact import redact

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ROOT / "rasa_project" / "domain.yml"
FALLBACK_INTENT = "nlu_fallback"
# A next message that opens with a negation or a "meant" and goes on corrects the one before.
_CORRECTION = re.compile(
    r"^\s*(?:(?:no+|nope|nah|not|wrong|oops)\b(?![\s,.!]*(?:thanks|thank|thx|worries|problem|not now|now)\b)"
    r"[\s,.!:;-]+\S|(?:no+\s*,?\s*)?(?:i\s+meant|i\s+said|"
    r"i\s+mean|actually|rather|instead)\b)",
    re.IGNORECASE,
)
_PUNCTUATION = re.compile(r"[^\w\s\[\]]+")
_SPACES = re.compile(r"\s+")


class LabelError(ValueError):
    """A label that cannot be stored (unknown intent or entity, a span outside the text)."""


@dataclass(frozen=True)
class EntitySpan:
    """An entity marked in the (redacted) text: [start, end) and its name."""

    start: int
    end: int
    entity: str
    value: str


@dataclass(frozen=True)
class LabelView:
    """One reviewer's label of a text."""

    id: int
    text_key: str
    text: str
    intent: str
    entities: tuple[EntitySpan, ...]
    staff_username: str
    labelled_at: datetime
    turn_id: int | None

    def signature(self) -> tuple[str, tuple[tuple[int, int, str], ...]]:
        """What two labels must share to agree: the intent and the spans."""
        return self.intent, tuple(sorted((e.start, e.end, e.entity) for e in self.entities))


@dataclass(frozen=True)
class ReviewItem:
    """A normalised text in the queue: how often it was flagged, why, what the model said, its labels."""

    text_key: str
    text: str
    normalised: str
    count: int
    reasons: tuple[str, ...]
    predicted: tuple[str, ...]
    min_confidence: float | None
    turn_id: int
    labels: tuple[LabelView, ...] = field(default=())

    @property
    def conflict(self) -> bool:
        """True when reviewers disagree on the intent or the entities."""
        return len({label.signature() for label in self.labels}) > 1


def normalise(text: str) -> str:
    """Lowercase, punctuation dropped, spaces collapsed: "No, the PHONE bill!" -> "no the phone bill"."""
    return _SPACES.sub(" ", _PUNCTUATION.sub(" ", text.lower())).strip()


def text_key(text: str) -> str:
    """The key that groups a redacted text with its variants (sha256 of the normalised form)."""
    return hashlib.sha256(normalise(text).encode()).hexdigest()


def is_correction(text: str) -> bool:
    """True when a message corrects the one before it ("no, the phone bill", "I meant rent")."""
    return bool(_CORRECTION.match(text))


@lru_cache(maxsize=4)
def domain_vocabulary(domain_path: Path = DOMAIN) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(intents, entities) declared in the Rasa domain: the choices a reviewer has."""
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(domain_path.read_text(encoding="utf-8"))
    intents = [i if isinstance(i, str) else next(iter(i)) for i in data.get("intents", [])]
    entities = [e if isinstance(e, str) else next(iter(e)) for e in data.get("entities", [])]
    return tuple(sorted(intents)), tuple(sorted(entities))


def _label_view(row: ReviewLabel) -> LabelView:
    spans = tuple(
        EntitySpan(int(e["start"]), int(e["end"]), str(e["entity"]), str(e.get("value", "")))
        for e in (row.entities or [])
    )
    return LabelView(
        id=row.id,
        text_key=row.text_key,
        text=row.text,
        intent=row.intent,
        entities=spans,
        staff_username=row.staff_username,
        labelled_at=row.labelled_at,
        turn_id=row.turn_id,
    )


def labels_by_key(session: Session) -> dict[str, list[LabelView]]:
    """Every label, grouped by text key, oldest first."""
    grouped: dict[str, list[LabelView]] = defaultdict(list)
    for row in session.scalars(select(ReviewLabel).order_by(ReviewLabel.labelled_at, ReviewLabel.id)):
        grouped[row.text_key].append(_label_view(row))
    return dict(grouped)


def labels_of(session: Session, text: str) -> list[LabelView]:
    """The labels of one (redacted) text and its normalised variants, oldest first."""
    query = (
        select(ReviewLabel)
        .where(ReviewLabel.text_key == text_key(text))
        .order_by(ReviewLabel.labelled_at, ReviewLabel.id)
    )
    return [_label_view(row) for row in session.scalars(query)]


@dataclass
class _Group:
    text: str
    turn_id: int
    count: int = 0
    reasons: set[str] = field(default_factory=set)
    predicted: list[str] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)


def _reasons(
    intent: str | None, confidence: float | None, is_fallback: bool, next_text: str | None, threshold: float
) -> set[str]:
    reasons = set()
    if is_fallback or intent == FALLBACK_INTENT:
        reasons.add("fallback")
    if confidence is not None and confidence < threshold:
        reasons.add("low confidence")
    if next_text is not None and is_correction(next_text):
        reasons.add("corrected next turn")
    return reasons


def review_queue(session: Session, *, threshold: float, limit: int = 200) -> list[ReviewItem]:
    """Flagged user messages grouped by normalised redacted text, most frequent first."""
    rows = session.execute(
        select(
            ConversationTurn.id,
            ConversationTurn.conversation_id,
            ConversationTurn.user_text,
            ConversationTurn.intent,
            ConversationTurn.confidence,
            ConversationTurn.is_fallback,
        ).order_by(ConversationTurn.conversation_id, ConversationTurn.seq)
    ).all()
    groups: dict[str, _Group] = {}
    for index, row in enumerate(rows):
        if row.user_text.startswith("/"):
            continue  # a button's payload, not words someone wrote
        following = rows[index + 1] if index + 1 < len(rows) else None
        next_text = (
            following.user_text
            if following is not None and following.conversation_id == row.conversation_id
            else None
        )
        reasons = _reasons(row.intent, row.confidence, row.is_fallback, next_text, threshold)
        if not reasons:
            continue
        shown = redact(row.user_text)
        group = groups.setdefault(text_key(shown), _Group(text=shown, turn_id=row.id))
        group.count += 1
        group.reasons |= reasons
        if row.intent:
            group.predicted.append(row.intent)
        if row.confidence is not None:
            group.confidences.append(row.confidence)
    labels = labels_by_key(session)
    items = [
        ReviewItem(
            text_key=key,
            text=group.text,
            normalised=normalise(group.text),
            count=group.count,
            reasons=tuple(sorted(group.reasons)),
            predicted=tuple(dict.fromkeys(group.predicted)),
            min_confidence=min(group.confidences) if group.confidences else None,
            turn_id=group.turn_id,
            labels=tuple(labels.get(key, [])),
        )
        for key, group in groups.items()
    ]
    items.sort(
        key=lambda item: (-item.count, item.min_confidence if item.min_confidence is not None else 0.0)
    )
    return items[:limit]


def turn_for_review(session: Session, turn_id: int) -> tuple[int, str, str | None, float | None] | None:
    """(turn id, redacted text, predicted intent, confidence) of one recorded user message."""
    row = session.get(ConversationTurn, turn_id)
    if row is None:
        return None
    return row.id, redact(row.user_text), row.intent, row.confidence


def _page_offsets(text: str) -> list[int]:
    """The page offset (module docstring of `save_label`) of every code-point index 0..len(text)."""
    offsets, unit = [0], 0
    for index, char in enumerate(text):
        if not (char == "\r" and text[index + 1 : index + 2] == "\n"):  # the DOM holds CRLF as LF
            unit += 2 if ord(char) > 0xFFFF else 1  # a UTF-16 surrogate pair
        offsets.append(unit)
    return offsets


def to_page_offset(text: str, index: int) -> int:
    """The review page's offset of code point `index` of `text`."""
    return _page_offsets(text)[index]


def from_page_offset(text: str, offset: int) -> int:
    """The code-point index of the review page's `offset` into `text` (LabelError if none is)."""
    offsets = _page_offsets(text)
    if offset in offsets:
        return offsets.index(offset)
    raise LabelError(f"offset {offset} is not at a character of the text")


def save_label(
    session: Session,
    *,
    turn_id: int,
    intent: str,
    entities: list[dict[str, object]],
    staff_id: int | None,
    staff_username: str,
    now: datetime | None = None,
) -> LabelView:
    """Store (or replace) `staff_username`'s label of the turn's redacted text; the caller commits.

    `entities` are {"start", "end", "entity"} offsets into the redacted text shown to the reviewer,
    in the review page's unit: UTF-16 code units of the text as the browser's DOM holds it (CRLF
    read as LF), which is what console/static/review.js counts. Stored labels (and everything past
    this function: export, conflicts) use code-point offsets of the redacted text; the conversion
    both ways is here only (`from_page_offset`, `to_page_offset`).
    """
    found = turn_for_review(session, turn_id)
    if found is None:
        raise LabelError("no such message")
    _, text, _, _ = found
    intents, entity_names = domain_vocabulary()
    if intent not in intents:
        raise LabelError(f"unknown intent {intent!r}")
    spans = _checked_spans(text, [_from_page(text, raw) for raw in entities], entity_names)
    key = text_key(text)
    row = session.scalar(
        select(ReviewLabel).where(ReviewLabel.text_key == key, ReviewLabel.staff_username == staff_username)
    )
    if row is None:
        row = ReviewLabel(text_key=key, staff_username=staff_username)
        session.add(row)
    row.text = text
    row.turn_id = turn_id
    row.intent = intent
    row.entities = [{"start": s.start, "end": s.end, "entity": s.entity, "value": s.value} for s in spans]
    row.staff_id = staff_id
    row.labelled_at = now or utcnow()
    session.flush()
    return _label_view(row)


def _from_page(text: str, raw: dict[str, object]) -> dict[str, object]:
    """One posted span with its page offsets made code-point offsets (`save_label`)."""
    try:
        start, end = int(str(raw["start"])), int(str(raw["end"]))
    except (KeyError, ValueError) as error:
        raise LabelError("each entity needs start, end and entity") from error
    return {**raw, "start": from_page_offset(text, start), "end": from_page_offset(text, end)}


def _checked_spans(text: str, entities: list[dict[str, object]], names: tuple[str, ...]) -> list[EntitySpan]:
    spans: list[EntitySpan] = []
    for raw in entities:
        try:
            start, end = int(str(raw["start"])), int(str(raw["end"]))
            entity = str(raw["entity"])
        except (KeyError, ValueError) as error:
            raise LabelError("each entity needs start, end and entity") from error
        if entity not in names:
            raise LabelError(f"unknown entity {entity!r}")
        # Spans never start or end in whitespace: the exported annotation would not round-trip.
        while start < end and text[start : start + 1].isspace():
            start += 1
        while end > start and text[end - 1 : end].isspace():
            end -= 1
        if not 0 <= start < end <= len(text):
            raise LabelError(f"span {start}-{end} is outside the text")
        spans.append(EntitySpan(start, end, entity, text[start:end]))
    spans.sort(key=lambda s: s.start)
    for before, after in pairwise(spans):
        if after.start < before.end:
            raise LabelError("entity spans overlap")
    return spans


def agreed_examples(session: Session) -> tuple[list[LabelView], list[list[LabelView]]]:
    """(one label per text all reviewers agree on, the conflicting groups left out of training)."""
    agreed: list[LabelView] = []
    conflicts: list[list[LabelView]] = []
    for labels in labels_by_key(session).values():
        if len({label.signature() for label in labels}) > 1:
            conflicts.append(labels)
        else:
            agreed.append(labels[-1])
    return agreed, conflicts
