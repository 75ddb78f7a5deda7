"""Cues of the ``edit`` writer: features a requirement asks for in plain words, read from its text.

A requirement without a rule checker (``Include two metaphors``, ``Cite sources in APA style``, ``Alternate
between English and Chinese``, ``Keep a formal tone``, ...) is still written when kept: each cue in
:data:`CUES` matches the requirement's wording and sets the draft features that show it (metaphor
sentences, in-text citations, Chinese sentences, formal openers, ...). A dropped requirement adds nothing,
so its feature is absent — visible in the text, as in real writing where an unrequested feature is simply
missing. :data:`DECORATIONS` read details of any requirement, checked or not (the column names of a table).
Cues are not verified by rule; labels of checked requirements still are.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from wrl_lightning.generation.edit_draft import Draft
from wrl_lightning.generation.edit_phrases import NUMBER_WORDS

_COUNT = re.compile(r"\b(?:at least|exactly|include|use|add|with|cite|give|mention)?\s*(\d+|" +
                    "|".join(NUMBER_WORDS) + r")\b", re.IGNORECASE)


def count_in(text: str, default: int = 2, limit: int = 5) -> int:
    """The first count named in ``text`` (digits or a number word), else ``default``; at most ``limit``."""
    match = _COUNT.search(text)
    if not match:
        return default
    word = match.group(1).lower()
    return min(int(word) if word.isdigit() else NUMBER_WORDS[word], limit)


def _metaphors(d: Draft, text: str) -> None:
    d.metaphors = max(d.metaphors, count_in(text))


def _citations(d: Draft, text: str) -> None:
    d.citations = max(d.citations, count_in(text))


def _statistics(d: Draft, text: str) -> None:
    d.figures = max(d.figures, count_in(text))


def _quotations(d: Draft, text: str) -> None:
    d.quotes = max(d.quotes, count_in(text, default=1))


def _timeline(d: Draft, text: str) -> None:
    d.timeline = max(d.timeline, 3)


def _question(d: Draft, text: str) -> None:
    d.questions = max(d.questions, count_in(text, default=1))


def _chinese(d: Draft, text: str) -> None:
    d.chinese = True


def _tone(d: Draft, text: str) -> None:
    lowered = text.lower()
    formal, casual = "formal" in lowered.replace("informal", ""), bool(re.search(r"colloquial|casual|informal|conversational", lowered))
    if formal and casual:
        d.tone = "alternating"
    elif "humo" in lowered:
        d.tone = "humorous"
    else:
        d.tone = "formal" if formal else "colloquial"


#: (pattern on the requirement text, step setting the draft to show it) for requirements without a checker.
CUES: list[tuple[re.Pattern, Callable[[Draft, str], None]]] = [
    (re.compile(r"metaphor|simile|figurative", re.I), _metaphors),
    (re.compile(r"\bAPA\b|citation|\bcite\b|scholarly source", re.I), _citations),
    (re.compile(r"statistic|data points?|percentages?", re.I), _statistics),
    (re.compile(r"quotation|\bquote|dialogue", re.I), _quotations),
    (re.compile(r"chronolog|timeline|in the order (?:they|it) happened", re.I), _timeline),
    (re.compile(r"rhetorical question", re.I), _question),
    (re.compile(r"chinese|mandarin", re.I), _chinese),
    (re.compile(r"\btone\b|formal|colloquial|casual|conversational|humou?r", re.I), _tone),
]

_QUOTED = re.compile(r"'([^']{2,30})'|\"([^\"]{2,30})\"")


def _column_names(d: Draft, text: str) -> None:
    if re.search(r"\bcolumns?\b", text, re.I):
        names = [a or b for a, b in _QUOTED.findall(text)]
        d.table_header = names or d.table_header


#: Steps that read details from any kept requirement (checked or not).
DECORATIONS: list[Callable[[Draft, str], None]] = [_column_names]


def apply_cues(d: Draft, text: str, checked: bool) -> None:
    """Set ``d`` to show what a kept requirement's wording asks for (cues only when it has no checker)."""
    for step in DECORATIONS:
        step(d, text)
    if checked:
        return
    for pattern, step in CUES:
        if pattern.search(text):
            step(d, text)
