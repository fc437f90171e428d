"""One-time codes (issue 13, step-up): masked wherever a typed code could be kept.

Standard library only, like privacy.cards. A code is 6 digits, possibly typed in groups
("482 913", "482-913"); `mask_codes` replaces each such run with bullets. Used by the transcripts
on a turn that answers a code prompt (an amount like "600" or a bill reference is left alone).
"""

from __future__ import annotations

import re

# The slot a step-up code is typed into (rasa_project/domain.yml, step_up_form).
CODE_SLOT = "step_up_code"
MASK = "••••••"
_CODE = re.compile(r"(?<!\d)\d(?:[ \-]?\d){5}(?!\d)")


def mask_codes(text: str) -> str:
    """`text` with every 6-digit run (spaces or dashes between digits allowed) replaced by bullets."""
    return _CODE.sub(MASK, text)
