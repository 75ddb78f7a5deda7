"""The draft of an ``edit`` response: what it contains, before any text is written.

A :class:`Draft` records the features one response should have (title, sections, lists, quotes, keywords,
case, sign-off, lengths, ...); the plan steps of :mod:`~wrl_lightning.generation.edit_steps` set it to keep
or break requirements, and :mod:`~wrl_lightning.generation.edit_render` turns it into text. This module
also holds the small vocabularies the renderer draws from for counted features: placeholder names,
all-capital words, keyword sentences and words rich in given letters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Kwargs = dict[str, Any]

PLACEHOLDERS = ["name", "date", "address", "phone number", "company", "city", "time", "email", "title", "team",
                "manager", "budget", "deadline", "product", "venue", "website", "department", "reference",
                "country", "signature"]
CAPS = ["CLEAR", "SIMPLE", "SAFE", "FAIR", "KEY", "VITAL", "CALM", "REAL", "BOLD", "TRUE", "FAST", "WARM"]
KEYWORD_LINES = ["If one word sums this up, it is {kw}.", "Any honest account has to mention {kw}.",
                 "It all comes back to {kw} in the end.", "Nothing captures the point quite like {kw}.",
                 "Sooner or later the talk turns to {kw}.", "Much of the story depends on {kw}.",
                 "Nobody could leave {kw} out of it.", "Few words describe it better than {kw}."]
LETTER_WORDS = "amazing bright cozy dazzle eager fuzzy giraffe jazz jungle kayak quiet quick quiz vivid wax " \
               "yellow zebra zigzag box exact oxygen pixel jewel junior keen knock opaque unique " \
               "hello river sunset ocean garden window bottle letter summer winter"


@dataclass
class Draft:
    """What a response contains; :func:`~wrl_lightning.generation.edit_render.render` turns it into text."""

    category: str
    topic: str
    seed: int
    paragraphs: int = 3
    per_paragraph: int = 4
    style: str = "medium"  # short | medium | long sentences
    repeat: str | None = None
    opening: str | None = None
    title_md: bool = False
    title_angle: bool = False
    title_words: int = 6
    sections: int = 0
    section_label: str | None = None
    heading_level: int | None = None
    headings: int | None = None  # Markdown headings wanted in total (title included)
    bullets: int = 0
    bullet_mark: str = "-"
    numbered: int = 0
    table: tuple[int, int] | None = None  # (columns, data rows)
    quotes: int = 0
    figures: int = 0
    bold: int = 0
    highlights: int = 0
    placeholders: int = 0
    keywords: list[tuple[str, int]] = field(default_factory=list)  # (term, times)
    banned: list[tuple[str, bool]] = field(default_factory=list)  # (term, whole word only)
    comma: bool | None = None  # False: none at all; True: at least one
    case: str | None = None  # lower | upper
    caps_words: int = 0
    letter: tuple[str, int] | None = None  # (letter, words with it to add)
    first_person: bool | None = None  # False: avoid; True: include one sentence
    language: str | None = None
    alternate: tuple[str, str] | None = None
    dividers: bool = False
    first_word: tuple[int, str] | None = None
    sign_off: str | None = None
    postscript: str | None = None
    constrained: bool = False
    end_phrase: str | None = None
    quote_whole: bool = False
    json: bool = False
    two: bool = False
    # Features asked in plain words (wrl_lightning.generation.edit_cues), written from edit_phrases banks.
    metaphors: int = 0
    citations: int = 0
    timeline: int = 0  # dated sentences in chronological order
    questions: int = 0
    tone: str | None = None  # formal | colloquial | humorous | alternating (formal and colloquial in turn)
    chinese: bool = False  # a Chinese sentence after each English one
    table_header: list[str] | None = None  # column names asked for
    sentence_target: int | None = None  # prose sentences wanted: the layout search tries the closest first

