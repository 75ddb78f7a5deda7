"""The ``edit`` generator: offline, deterministic responses that keep chosen requirements and break the rest.

A response is planned as a :class:`Draft` (what it contains: title, sections, lists, quotes, keywords, case,
sign-off, ...). Each verifiable checker id has a plan step that sets the draft for "keep" or "break"
(:data:`PLANS`); lengths (paragraphs × sentences × sentence style) are then searched until every kept
requirement passes its checker and every dropped one fails, so labels are true by construction. When no
layout gets every label right (conflicting requirements, an unsupported language, a bound that cannot be
broken such as "at least 0"), the layout with the most labels right is returned, or an error is raised
when ``on_conflict="error"``. Requirements without a checker are ignored.

Every registered checker id can be kept and broken. Limits: a requirement that always holds (e.g. "at
least 0 placeholders") cannot be broken; text is written in English, French, Spanish, German, Italian or
Portuguese only; some combinations conflict (e.g. a repeated prompt that itself contains ``<<title>>``
cannot break ``detectable_format:title``). On IFEval's 541 prompts with every instruction kept, 789 of 834
instructions pass (500 prompts fully); most misses are languages it cannot write.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from wrl_lightning.data.records import Requirement
from wrl_lightning.data.taxonomy import infer_category
from wrl_lightning.errors import RecordError, WrlError
from wrl_lightning.generation.base import GenerationRequest, Generator
from wrl_lightning.generation.edit_text import (
    FOREIGN,
    ITEMS,
    NUMBERED_FACTS,
    QUOTES,
    SECTION_NAMES,
    SENTENCES,
    SHORT,
    topic_of,
)
from wrl_lightning.requirements.checkers import predicate
from wrl_lightning.requirements.writing_checkers import FIRST_PERSON

log = logging.getLogger(__name__)

Kwargs = dict[str, Any]

_PLACEHOLDERS = ["name", "date", "address", "phone number", "company", "city", "time", "email", "title", "team",
                 "manager", "budget", "deadline", "product", "venue", "website", "department", "reference",
                 "country", "signature"]
_CAPS = ["CLEAR", "SIMPLE", "SAFE", "FAIR", "KEY", "VITAL", "CALM", "REAL", "BOLD", "TRUE", "FAST", "WARM"]
_KEYWORD_LINES = ["If one word sums this up, it is {kw}.", "Any honest account has to mention {kw}.",
                  "It all comes back to {kw} in the end.", "Nothing captures the point quite like {kw}."]
_LETTER_WORDS = "amazing bright cozy dazzle eager fuzzy giraffe jazz jungle kayak quiet quick quiz vivid wax " \
                "yellow zebra zigzag box exact oxygen pixel jewel junior keen knock opaque unique " \
                "hello river sunset ocean garden window bottle letter summer winter"


@dataclass
class Draft:
    """What a response contains; :func:`render` turns it into text."""

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


# ------------------------------------------------------------------------------------------- plan steps
#: checker id -> step(draft, kwargs, keep) setting the draft to keep (True) or break (False) the requirement.
#: A step returns False when it cannot do it (the layout search then stops trying for that requirement).
PLANS: dict[str, Callable[[Draft, Kwargs, bool], bool | None]] = {}


def plan(*checker_ids: str):
    def register(step):
        for checker_id in checker_ids:
            PLANS[checker_id] = step
        return step

    return register


def inside(low: int | None, high: int | None, keep: bool, natural: int = 3) -> int:
    """A count inside ``[low, high]`` (keep) or outside it (break; 0 when it cannot be broken)."""
    low = low or 0
    if keep:
        return max(low, natural) if high is None else min(max(low, natural), high)
    if high is not None:
        return high + 1
    return max(low - 1, 0)


@plan("writing:word_count", "writing:sentence_count", "writing:paragraph_count", "writing:character_count",
      "length_constraints:number_words", "length_constraints:number_sentences")
def _by_search(d: Draft, k: Kwargs, keep: bool) -> None:
    """Lengths are found by the layout search."""


@plan("writing:max_sentence_length")
def _sentence_style(d: Draft, k: Kwargs, keep: bool) -> None:
    """The search starts with the sentence style most likely to keep (short) or break (long) the limit."""
    d.style = "long" if not keep else ("short" if k["max_words"] < 16 else "medium")


@plan("length_constraints:number_paragraphs")
def _dividers(d: Draft, k: Kwargs, keep: bool) -> None:
    d.dividers = True


@plan("writing:bullet_list")
def _bullets(d: Draft, k: Kwargs, keep: bool) -> None:
    d.bullets = inside(k.get("min_items"), k.get("max_items"), keep, natural=4)


@plan("detectable_format:number_bullet_lists")
def _ifeval_bullets(d: Draft, k: Kwargs, keep: bool) -> None:
    d.bullets, d.bullet_mark = (k["num_bullets"] if keep else k["num_bullets"] + 1), "*"


@plan("writing:numbered_list")
def _numbered(d: Draft, k: Kwargs, keep: bool) -> None:
    d.numbered = inside(k.get("min_items"), k.get("max_items"), keep, natural=4)


@plan("writing:bold_phrases")
def _bold(d: Draft, k: Kwargs, keep: bool) -> None:
    d.bold = inside(k.get("min_phrases"), k.get("max_phrases"), keep, natural=2)


@plan("detectable_format:number_highlighted_sections")
def _highlights(d: Draft, k: Kwargs, keep: bool) -> None:
    d.highlights = k["num_highlights"] if keep else max(k["num_highlights"] - 1, 0)


@plan("detectable_content:number_placeholders")
def _placeholders(d: Draft, k: Kwargs, keep: bool) -> None:
    d.placeholders = k["num_placeholders"] if keep else max(k["num_placeholders"] - 1, 0)


@plan("writing:quotations")
def _quotes(d: Draft, k: Kwargs, keep: bool) -> None:
    d.quotes = inside(k.get("min_quotes"), k.get("max_quotes"), keep, natural=1)


@plan("writing:numbers")
def _figures(d: Draft, k: Kwargs, keep: bool) -> None:
    d.figures = inside(k.get("min_numbers"), k.get("max_numbers"), keep, natural=2)


@plan("writing:markdown_table")
def _table(d: Draft, k: Kwargs, keep: bool) -> None:
    d.table = (k.get("columns", 3), max(k.get("min_rows", 1), 3)) if keep else None


@plan("writing:title")
def _title(d: Draft, k: Kwargs, keep: bool) -> None:
    d.title_md = keep
    d.title_words = min(d.title_words, k.get("max_words", d.title_words))


@plan("detectable_format:title")
def _angle_title(d: Draft, k: Kwargs, keep: bool) -> None:
    d.title_angle = keep


@plan("writing:headings")
def _headings(d: Draft, k: Kwargs, keep: bool) -> None:
    d.headings = inside(k.get("min_headings"), k.get("max_headings"), keep, natural=3)
    d.heading_level = k.get("level", 2)


@plan("writing:numbered_sections")
def _labelled_sections(d: Draft, k: Kwargs, keep: bool) -> None:
    n = k["num_sections"]
    d.sections, d.section_label = (n if keep else (n - 1 or n + 1)), k.get("label", "Part")


@plan("detectable_format:multiple_sections")
def _ifeval_sections(d: Draft, k: Kwargs, keep: bool) -> None:
    d.sections, d.section_label = (max(k["num_sections"], 1) if keep else k["num_sections"] - 1), k["section_spliter"]


@plan("writing:starts_with")
def _opening(d: Draft, k: Kwargs, keep: bool) -> None:
    d.opening = k["phrase"] if keep else d.opening


@plan("combination:repeat_prompt")
def _repeat(d: Draft, k: Kwargs, keep: bool) -> None:
    d.repeat = k["prompt_to_repeat"] if keep else None


@plan("writing:signature")
def _signature(d: Draft, k: Kwargs, keep: bool) -> None:
    d.sign_off = k["name"] if keep else None


@plan("detectable_content:postscript")
def _postscript(d: Draft, k: Kwargs, keep: bool) -> None:
    d.postscript = k["postscript_marker"] if keep else None


@plan("startend:end_checker")
def _end(d: Draft, k: Kwargs, keep: bool) -> None:
    d.end_phrase = k["end_phrase"] if keep else None


@plan("detectable_format:constrained_response")
def _constrained(d: Draft, k: Kwargs, keep: bool) -> None:
    d.constrained = keep


@plan("writing:no_first_person")
def _first_person(d: Draft, k: Kwargs, keep: bool) -> None:
    d.first_person = not keep


@plan("writing:required_words", "keywords:existence")
def _required(d: Draft, k: Kwargs, keep: bool) -> None:
    terms = k.get("words") or k["keywords"]
    if keep:
        d.keywords += [(term, 1) for term in terms]
    else:
        d.banned.append((terms[0], "words" in k))


@plan("writing:forbidden_words", "keywords:forbidden_words")
def _forbidden(d: Draft, k: Kwargs, keep: bool) -> None:
    terms = k.get("words") or k["forbidden_words"]
    if keep:
        d.banned += [(term, True) for term in terms]
    else:
        d.keywords.append((terms[0], 1))


@plan("keywords:frequency")
def _frequency(d: Draft, k: Kwargs, keep: bool) -> None:
    wants_many = (k["relation"] == "at least") == keep
    if wants_many:
        d.keywords.append((k["keyword"], k["frequency"]))
    elif k["frequency"] <= 1:
        d.banned.append((k["keyword"], False))


@plan("keywords:letter_frequency")
def _letter(d: Draft, k: Kwargs, keep: bool) -> None:
    if (k["let_relation"] == "at least") == keep:
        d.letter = (k["letter"].lower(), k["let_frequency"])


@plan("change_case:capital_word_frequency")
def _capital_words(d: Draft, k: Kwargs, keep: bool) -> None:
    if (k["capital_relation"] == "at least") == keep:
        d.caps_words = k["capital_frequency"]


@plan("change_case:english_capital")
def _upper(d: Draft, k: Kwargs, keep: bool) -> None:
    d.case = "upper" if keep else d.case


@plan("change_case:english_lowercase")
def _lower(d: Draft, k: Kwargs, keep: bool) -> None:
    d.case = "lower" if keep else d.case


@plan("punctuation:no_comma")
def _comma(d: Draft, k: Kwargs, keep: bool) -> None:
    d.comma = not keep


@plan("startend:quotation")
def _quotation(d: Draft, k: Kwargs, keep: bool) -> None:
    d.quote_whole = keep


@plan("detectable_format:json_format")
def _json(d: Draft, k: Kwargs, keep: bool) -> None:
    d.json = keep


@plan("combination:two_responses")
def _two(d: Draft, k: Kwargs, keep: bool) -> None:
    d.two = keep


@plan("language:response_language")
def _language(d: Draft, k: Kwargs, keep: bool) -> bool:
    code = k["language"]
    d.language = code if keep else ("fr" if code == "en" else "en")
    return d.language == "en" or d.language in FOREIGN


@plan("writing:alternating_languages")
def _alternate(d: Draft, k: Kwargs, keep: bool) -> bool:
    first, second = k["languages"]
    d.alternate = (first, second) if keep else (first, first)
    return all(code == "en" or code in FOREIGN for code in d.alternate)


@plan("length_constraints:nth_paragraph_first_word")
def _first_word(d: Draft, k: Kwargs, keep: bool) -> None:
    if keep:
        d.first_word = (k["nth_paragraph"], k["first_word"])


# ----------------------------------------------------------------------------------------------- render
def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _term(term: str, whole: bool) -> re.Pattern:
    """A case-insensitive pattern for ``term`` (as a whole word, or anywhere)."""
    return re.compile(rf"(?<!\w){re.escape(term)}(?!\w)" if whole else re.escape(term), re.IGNORECASE)


class _Sentences:
    """An endless, seeded stream of prose sentences for one draft and language."""

    def __init__(self, d: Draft, rng: random.Random, language: str = "en"):
        if language != "en":
            bank = list(FOREIGN.get(language, []))
        elif d.style == "short":
            bank = list(SHORT)
        else:
            own = list(SENTENCES.get(d.category, SENTENCES["informational"]))
            rest = [s for name, group in SENTENCES.items() if name != d.category for s in group]
            rng.shuffle(own)
            rng.shuffle(rest)
            bank = own + rest
        topic = d.topic
        bank = [s.format(topic=topic, Topic=_cap(topic)) for s in bank]
        bank = [s for s in bank if self._allowed(d, s)] or ["It helps to take things one step at a time."]
        self._cycle = itertools.cycle(bank)
        self._long = d.style == "long" and language == "en"

    @staticmethod
    def _allowed(d: Draft, sentence: str) -> bool:
        if d.first_person is False and FIRST_PERSON.search(sentence):
            return False
        return not any(_term(term, whole).search(sentence) for term, whole in d.banned)

    def __next__(self) -> str:
        sentence = next(self._cycle)
        if self._long:
            other = next(self._cycle)
            sentence = f"{sentence[:-1]}, and {other[:1].lower()}{other[1:]}"
        return sentence


def _extras(d: Draft, rng: random.Random) -> list[str]:
    """Sentences added for counted features: quotes, figures, keywords, capitals, letters, ..."""
    extra = [QUOTES[i % len(QUOTES)] for i in range(d.quotes)]
    extra += [NUMBERED_FACTS[i % len(NUMBERED_FACTS)].format(n=rng.randint(2, 95)) for i in range(d.figures)]
    for term, times in d.keywords:
        extra += [_cap(_KEYWORD_LINES[i % len(_KEYWORD_LINES)].format(kw=term)) for i in range(times)]
    caps = [_CAPS[i % len(_CAPS)] for i in range(d.caps_words)]
    extra += [f"The points that matter are {', '.join(caps[i:i + 3])}." for i in range(0, len(caps), 3)]
    if d.letter:
        letter, count = d.letter
        pool = [w for w in _LETTER_WORDS.split() if letter in w] or [letter * 3]
        chosen = [pool[i % len(pool)] for i in range(count)]
        extra += [f"Words like {', '.join(chosen[i:i + 4])} come to mind." for i in range(0, len(chosen), 4)]
    if d.first_person:
        extra.append(f"I find {d.topic} more interesting the longer I look at it.")
    if d.placeholders:
        names = [_PLACEHOLDERS[i % len(_PLACEHOLDERS)] for i in range(d.placeholders)]
        extra += ["Please confirm " + ", ".join(f"[{n}]" for n in names[i:i + 4]) + " before sending."
                  for i in range(0, len(names), 4)]
    if d.comma:
        extra.append("Slowly, the picture becomes clearer.")
    return extra


def _mark_words(sentences: list[str], count: int, left: str, right: str, skip: int = 0) -> None:
    """Wrap the last two words of ``count`` sentences (from index ``skip``) in ``left``/``right`` markers."""
    for index in range(skip, min(skip + count, len(sentences))):
        match = re.search(r"(\w[\w'’-]*\s+\w[\w'’-]*)(\W*)$", sentences[index])
        if match:
            sentences[index] = f"{sentences[index][:match.start()]}{left}{match.group(1)}{right}{match.group(2)}"


def _title(d: Draft) -> str:
    words = re.findall(r"[\w'’-]+", d.topic)
    text = " ".join(_cap(w) for w in words[: d.title_words]) or "Notes"
    text = f"<<{text}>>" if d.title_angle else text
    return f"# {text}" if d.title_md else text


def _lists(d: Draft) -> list[str]:
    """The bullet list, numbered list and table blocks the draft asks for."""
    lists = []
    if d.bullets:
        lists.append("\n".join(f"{d.bullet_mark} {ITEMS[i % len(ITEMS)]}" for i in range(d.bullets)))
    if d.numbered:
        lists.append("\n".join(f"{i + 1}. {ITEMS[(i + 5) % len(ITEMS)]}" for i in range(d.numbered)))
    if d.table:
        columns, rows = d.table
        header = ["Aspect", "What to do", "Why it helps", "Owner", "When", "Notes"][:columns]
        header += [f"Column {chr(65 + i)}" for i in range(len(header), columns)]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * columns]
        for r in range(rows):
            cells = [ITEMS[(r + c) % len(ITEMS)] for c in range(columns)]
            lines.append("| " + " | ".join(cells) + " |")
        lists.append("\n".join(lines))
    return lists


def _body(d: Draft, seed: int) -> list[str]:
    """The response's blocks (before whole-text transforms)."""
    rng = random.Random(seed)
    languages = [d.language or "en"] if not d.alternate else list(d.alternate)
    streams = {code: _Sentences(d, random.Random(seed), code) for code in dict.fromkeys(languages)}
    n_paragraphs = max(d.paragraphs, d.sections, 1)
    paragraphs = [[next(streams[languages[i % len(languages)]]) for _ in range(d.per_paragraph)]
                  for i in range(n_paragraphs)]
    for i, sentence in enumerate(_extras(d, rng)):
        paragraphs[i % n_paragraphs].append(sentence)
    flat = [s for p in paragraphs for s in p]
    _mark_words(flat, d.bold, "**", "**")
    _mark_words(flat, d.highlights, "*", "*", skip=d.bold)
    it = iter(flat)
    prose = [" ".join(next(it) for _ in p) for p in paragraphs]

    lists = _lists(d)
    separator = "\n\n***\n\n" if d.dividers else "\n\n"

    headings = 0
    if d.headings is not None:
        title_counts = d.title_md and d.heading_level in (None, 1)
        headings = max(d.headings - int(title_counts), 0)
    n_sections = d.sections or headings
    if n_sections:
        per = [prose[i::n_sections] for i in range(n_sections)]
        body = []
        for i, chunk in enumerate(per):
            name = SECTION_NAMES[i % len(SECTION_NAMES)]
            label = f"{d.section_label} {i + 1}: {name}" if d.section_label else name
            level = d.heading_level if i < headings else None
            body.append((f"{'#' * level} " if level else "") + label)
            body.append(separator.join(chunk + (lists if i == 0 else [])))
    else:
        body = [separator.join(prose[:1] + lists + prose[1:])]

    lead = [d.repeat] if d.repeat else []
    if d.title_md or d.title_angle:
        lead.append(_title(d))
    if d.opening:
        if lead or n_sections:
            lead.insert(int(bool(d.repeat)), d.opening)
        else:
            body[0] = f"{d.opening} {body[0][:1].lower()}{body[0][1:]}"
    tail = []
    if d.sign_off:
        tail.append(f"Best regards,\n{d.sign_off}")
    if d.postscript:
        tail.append(f"{d.postscript} {next(streams[languages[0]])}")
    if d.constrained:
        tail.append("My answer is yes.")
    if d.end_phrase:
        tail.append(d.end_phrase)
    blocks = "\n\n".join(lead + body + tail).split("\n\n")
    if d.first_word:
        nth, word = d.first_word
        if nth <= len(blocks):
            block = blocks[nth - 1]
            blocks[nth - 1] = f"{_cap(word)} {block[:1].lower()}{block[1:]}"
    return blocks


def render(d: Draft) -> str:
    """The response text of a draft."""
    text = "\n\n".join(_body(d, d.seed))
    if d.two:
        text = text + "\n******\n" + "\n\n".join(_body(d, d.seed + 1))
    for term, whole in d.banned:  # what the sentence filter could not avoid (topic, title, kept phrases)
        text = _term(term, whole).sub("this", text)
    if d.comma is False:
        text = text.replace(", ", " ").replace(",", "")
    if d.case == "lower":
        text = text.lower()
    elif d.case == "upper":
        text = text.upper()
    if d.quote_whole:
        text = f'"{text}"'
    if d.json:
        text = json.dumps({"topic": d.topic, "response": text}, ensure_ascii=False, indent=2)
    return text


# -------------------------------------------------------------------------------------------- generator
_PARAGRAPHS = (3, 2, 4, 1, 5, 6, 7, 8, 10, 12)
_PER_PARAGRAPH = (4, 3, 5, 2, 6, 1, 8, 10, 12, 16)
_STYLES = ("medium", "short", "long")
# Rules that run language detection: checked last.
_SLOW = {"language:response_language", "change_case:english_capital", "change_case:english_lowercase",
         "writing:alternating_languages"}


@dataclass
class EditResult:
    """A written response and, per requirement, whether its label came out right."""

    text: str
    kept_ok: list[bool]
    dropped_ok: list[bool]

    @property
    def exact(self) -> bool:
        """Every kept requirement passes and every dropped one fails."""
        return all(self.kept_ok) and all(self.dropped_ok)


class EditGenerator(Generator):
    """Writes a response keeping ``request.requirements`` and breaking ``request.dropped`` (verifiable ones).

    ``seed`` is used for requests without their own; ``max_candidates`` bounds the layouts tried per
    response; ``on_conflict`` is ``closest`` (return the layout with the most labels right, logged) or
    ``error`` (raise).
    """

    def __init__(self, seed: int = 0, max_candidates: int = 300, on_conflict: str = "closest"):
        if on_conflict not in ("closest", "error"):
            raise ValueError(f"on_conflict must be 'closest' or 'error', got {on_conflict!r}")
        self.seed, self.max_candidates, self.on_conflict = seed, max_candidates, on_conflict

    def generate(self, requests: Sequence[GenerationRequest]) -> list[str]:
        return [self.write(request).text for request in requests]

    def write(self, request: GenerationRequest) -> EditResult:
        """The response to one request, with its per-requirement outcome."""
        if not request.prompt.strip():
            raise RecordError(f"request {request.request_id!r}", None, "prompt", "empty")
        kept = [r for r in request.requirements if r.checker in PLANS]
        dropped = [r for r in request.dropped if r.checker in PLANS]
        seed = request.seed if request.seed is not None else _stable_seed(request.request_id, self.seed)
        draft = Draft(category=_category(request.prompt), topic=topic_of(request.prompt), seed=seed)
        labelled = [(r, False) for r in dropped] + [(r, True) for r in kept]
        possible = [PLANS[r.checker](draft, r.kwargs, keep) is not False for r, keep in labelled]
        rules = [(predicate(r, request.prompt), keep) for r, keep in labelled]
        searched = sorted((i for i in range(len(rules)) if possible[i]), key=lambda i: labelled[i][0].checker in _SLOW)
        best, best_right = "", -1
        for candidate in itertools.islice(_layouts(draft), self.max_candidates):
            text = render(candidate)
            right = _labels_right([rules[i] for i in searched], text)
            if right == len(searched):
                best = text
                break
            if right > best_right:
                best, best_right = text, right
        outcome = [_verdict(rule, best) == keep for rule, keep in rules]
        if not all(outcome):
            message = f"request {request.request_id!r}: no layout keeps/breaks every requirement"
            if self.on_conflict == "error":
                raise WrlError(message)
            log.info("%s; returning the closest", message)
        return EditResult(text=best, kept_ok=outcome[len(dropped):], dropped_ok=outcome[: len(dropped)])


def _verdict(rule: Callable[[str], bool], text: str) -> bool:
    """A strict check, as :func:`~wrl_lightning.requirements.checkers.check_requirement` does it."""
    return bool(text.strip()) and bool(rule(text))


def _labels_right(rules: list[tuple[Callable[[str], bool], bool]], text: str) -> int:
    """How many labels hold, counted up to the first that does not."""
    for count, (rule, keep) in enumerate(rules):
        if _verdict(rule, text) != keep:
            return count
    return len(rules)


def _layouts(draft: Draft):
    styles = (draft.style, *(style for style in _STYLES if style != draft.style))
    for style, paragraphs, per in itertools.product(styles, _PARAGRAPHS, _PER_PARAGRAPH):
        yield replace(draft, style=style, paragraphs=paragraphs, per_paragraph=per)


def _category(prompt: str) -> str:
    category = infer_category(prompt)
    return category if category in SENTENCES else "informational"


def _stable_seed(request_id: str, base: int) -> int:
    import zlib

    return zlib.crc32(f"{base}:{request_id}".encode())


def as_request(prompt: str, requirements: list[Requirement], kept: list[bool], request_id: str,
               seed: int | None = None) -> GenerationRequest:
    """A request keeping ``requirements[i]`` where ``kept[i]`` and dropping the others."""
    return GenerationRequest(
        prompt=prompt,
        request_id=request_id,
        requirements=[r for r, keep in zip(requirements, kept, strict=True) if keep],
        dropped=[r for r, keep in zip(requirements, kept, strict=True) if not keep],
        seed=seed,
    )
