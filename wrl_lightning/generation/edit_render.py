"""Rendering of an ``edit`` draft into response text.

:func:`render` writes a :class:`~wrl_lightning.generation.edit_draft.Draft` as prose: seeded sentence
streams per language (filtered for banned terms and first person), extra sentences for counted features
(quotes, statistics, metaphors, citations, questions, keywords, capitals, letters, placeholders), register
openers, dated sentences in order and interleaved Chinese sentences, bold and highlighted words, title, lists
and table (named columns), sections and headings, opening, sign-off, postscript and end phrase; then whole-text transforms
(banned terms, commas, case, quotation marks, JSON, two responses). The same draft always gives the same
text.
"""

from __future__ import annotations

import itertools
import json
import random
import re

from wrl_lightning.generation import edit_phrases as phrases
from wrl_lightning.generation.edit_draft import CAPS, KEYWORD_LINES, LETTER_WORDS, PLACEHOLDERS, Draft
from wrl_lightning.generation.edit_text import FOREIGN, ITEMS, QUOTES, SECTION_NAMES, SENTENCES, SHORT
from wrl_lightning.requirements.writing_checkers import FIRST_PERSON


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
        bank = [s for s in bank if self.allowed(d, s)] or ["It helps to take things one step at a time."]
        self._cycle = itertools.cycle(bank)
        self._long = d.style == "long" and language == "en"

    @staticmethod
    def allowed(d: Draft, sentence: str) -> bool:
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
    pool = [q for q in QUOTES if _Sentences.allowed(d, q)] or QUOTES[:1]
    quotes = rng.sample(pool, len(pool))
    extra = [quotes[i % len(quotes)] for i in range(d.quotes)]
    extra += [phrases.statistic(rng) for _ in range(d.figures)]
    extra += [phrases.metaphor(rng) for _ in range(d.metaphors)]
    extra += [phrases.citation(rng) for _ in range(d.citations)]
    extra += [rng.choice(phrases.QUESTIONS) for _ in range(d.questions)]
    lines = rng.sample(KEYWORD_LINES, len(KEYWORD_LINES))
    for term, times in d.keywords:
        extra += [_cap(lines[i % len(lines)].format(kw=term)) for i in range(times)]
    caps = [CAPS[i % len(CAPS)] for i in range(d.caps_words)]
    extra += [f"The points that matter are {', '.join(caps[i:i + 3])}." for i in range(0, len(caps), 3)]
    if d.letter:
        letter, count = d.letter
        pool = [w for w in LETTER_WORDS.split() if letter in w] or [letter * 3]
        chosen = [pool[i % len(pool)] for i in range(count)]
        extra += [f"Words like {', '.join(chosen[i:i + 4])} come to mind." for i in range(0, len(chosen), 4)]
    if d.first_person:
        extra.append(f"I find {d.topic} more interesting the longer I look at it.")
    if d.placeholders:
        names = [PLACEHOLDERS[i % len(PLACEHOLDERS)] for i in range(d.placeholders)]
        extra += ["Please confirm " + ", ".join(f"[{n}]" for n in names[i:i + 4]) + " before sending."
                  for i in range(0, len(names), 4)]
    if d.comma:
        extra.append("Slowly, the picture becomes clearer.")
    return [_topical(sentence, d.topic) for sentence in extra]


def extra_count(d: Draft) -> int:
    """How many sentences the draft's counted features add to the prose."""
    return len(_extras(d, random.Random(d.seed))) + d.timeline


def _topical(sentence: str, topic: str) -> str:
    """``sentence`` with its ``{topic}`` / ``{Topic}`` slots filled (other braces left alone)."""
    return _cap(sentence.replace("{topic}", topic).replace("{Topic}", _cap(topic)))


def _toned(sentence: str, opener: str) -> str:
    """``sentence`` behind a register opener (its first letter lowered unless it is ``I``)."""
    lowered = sentence if re.match(r"I\b", sentence) else sentence[:1].lower() + sentence[1:]
    return opener + lowered


def _voice(d: Draft, paragraphs: list[list[str]], rng: random.Random) -> None:
    """Tone openers on every other sentence, dated sentences in order, Chinese after each English sentence."""
    if d.tone:
        registers = ["formal", "colloquial"] if d.tone == "alternating" else [d.tone]
        flat = [(p, i) for p, paragraph in enumerate(paragraphs) for i in range(len(paragraph))]
        for n, (p, i) in enumerate(flat[:: 1 if d.tone == "alternating" else 2]):
            register = registers[n % len(registers)]
            paragraphs[p][i] = _toned(paragraphs[p][i], rng.choice(phrases.TONE_OPENERS[register]))
    if d.timeline:
        dated = [_topical(s, d.topic) for s in phrases.timeline(rng, d.timeline)]
        per = -(-len(dated) // len(paragraphs))
        for p, paragraph in enumerate(paragraphs):
            paragraph.extend(dated[p * per:(p + 1) * per])
    if d.chinese:
        chinese = itertools.cycle(rng.sample(phrases.CHINESE, len(phrases.CHINESE)))
        for paragraph in paragraphs:
            paragraph[:] = [part for sentence in paragraph for part in (sentence, next(chinese))]


def _mark_words(sentences: list[str], count: int, left: str, right: str, skip: int = 0) -> None:
    """Wrap the last two words of ``count`` sentences (from index ``skip``) in ``left``/``right`` markers."""
    for index in range(skip, min(skip + count, len(sentences))):
        match = re.search(r"(\w[\w'’-]*\s+\w[\w'’-]*)(\W*)$", sentences[index])
        if match:
            sentences[index] = f"{sentences[index][:match.start()]}{left}{match.group(1)}{right}{match.group(2)}"


def _title_line(d: Draft) -> str:
    words = re.findall(r"[\w'’-]+", d.topic)
    text = " ".join(_cap(w) for w in words[: d.title_words]) or "Notes"
    text = f"<<{text}>>" if d.title_angle else text
    return f"# {text}" if d.title_md else text


def _lists(d: Draft, rng: random.Random) -> list[str]:
    """The bullet list, numbered list and table blocks the draft asks for."""
    lists = []
    if d.bullets:
        lists.append("\n".join(f"{d.bullet_mark} {ITEMS[i % len(ITEMS)]}" for i in range(d.bullets)))
    if d.numbered:
        lists.append("\n".join(f"{i + 1}. {ITEMS[(i + 5) % len(ITEMS)]}" for i in range(d.numbered)))
    if d.table:
        columns, rows = d.table
        header = (d.table_header or ["Aspect", "What to do", "Why it helps", "Owner", "When", "Notes"])[:columns]
        header += [f"Column {chr(65 + i)}" for i in range(len(header), columns)]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * columns]
        cells = itertools.cycle(rng.sample(phrases.CELLS, len(phrases.CELLS)))
        for r in range(rows):
            row = [_cap(ITEMS[r % len(ITEMS)]) if c == 0 else next(cells) for c in range(columns)]
            lines.append("| " + " | ".join(row) + " |")
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
    _voice(d, paragraphs, rng)
    flat = [s for p in paragraphs for s in p]
    _mark_words(flat, d.bold, "**", "**")
    _mark_words(flat, d.highlights, "*", "*", skip=d.bold)
    it = iter(flat)
    prose = [" ".join(next(it) for _ in p) for p in paragraphs]

    lists = _lists(d, rng)
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
        lead.append(_title_line(d))
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
