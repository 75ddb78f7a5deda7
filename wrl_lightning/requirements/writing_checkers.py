"""Writing-oriented verifiable requirements (ids ``writing:*``), checked by rule.

Text units, as every checker here counts them:

- **word**: a run of letters/digits, with inner apostrophes or hyphens kept (``don't``, ``well-known``: 1).
- **block**: text between blank lines. A block is **markup** when its first line is a Markdown heading,
  a list item or a table row; a **paragraph** is a non-markup block with sentence-ending punctuation
  (so a title line or a sign-off such as "Best,\\nSam" is not a paragraph).
- **sentence**: NLTK Punkt (English) sentences of the paragraphs only.
- **figure** (``writing:numbers``): a numeral in the paragraphs (list numbers and section labels are not).

Range checkers take ``min_X`` and/or ``max_X`` (inclusive; at least one, ``min <= max``; equal = exactly).
Language detection uses ``langdetect`` seeded with 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import langdetect
from if_verifiable.ifeval.instructions_util import LANGUAGE_CODES

from wrl_lightning.requirements.checkers import Checker, Kwargs, Param, Predicate, register

langdetect.DetectorFactory.seed = 0

WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_MARKUP = re.compile(r"^\s*(#{1,6}\s|[-*+•]\s|\d+[.)]\s|\|)")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)]*(\s|$)")
_BULLET = re.compile(r"^\s*[-*+•]\s+(?![-*\s]*$)\S", re.MULTILINE)
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+\S", re.MULTILINE)
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+\S", re.MULTILINE)
_BOLD = re.compile(r"\*\*([^*\n]+?)\*\*")
_QUOTE = re.compile(r"\"([^\"\n]+)\"|“([^”\n]+)”")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*%?")
FIRST_PERSON = re.compile(r"\b(i|me|my|mine|myself|we|us|our|ours|ourselves)\b", re.IGNORECASE)
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_LANGUAGES = tuple(LANGUAGE_CODES)
_COUNT = Param("int", required=False, minimum=0)


# ------------------------------------------------------------------------------------------ text units
def words(text: str) -> list[str]:
    """Words as defined above."""
    return WORD.findall(text)


def blocks(text: str) -> list[str]:
    """Non-empty blank-line-separated blocks, stripped."""
    return [block.strip() for block in _BLANK_LINE.split(text) if block.strip()]


def is_markup(block: str) -> bool:
    """Whether a block is a heading, a list or a table."""
    return bool(_MARKUP.match(block))


def paragraphs(text: str) -> list[str]:
    """Prose paragraphs (see the module docstring)."""
    return [block for block in blocks(text) if not is_markup(block) and _SENTENCE_END.search(block)]


def sentences(text: str) -> list[str]:
    """Punkt sentences of the prose paragraphs (needs the ``punkt_tab`` data)."""
    import nltk

    return [s for paragraph in paragraphs(text) for s in nltk.tokenize.sent_tokenize(paragraph, language="english")]


def tables(text: str) -> list[list[list[str]]]:
    """Markdown tables (header, separator, body rows) as lists of rows of cells, separator dropped."""
    found, run = [], []
    for line in [*text.split("\n"), ""]:
        if line.strip().startswith("|"):
            run.append(line)
            continue
        if len(run) >= 2 and _TABLE_SEPARATOR.match(run[1]):
            found.append([[cell.strip() for cell in row.strip().strip("|").split("|")] for row in [run[0], *run[2:]]])
        run = []
    return found


def detect_language(text: str) -> str | None:
    """``langdetect``'s language code, ``None`` when it cannot tell."""
    try:
        return langdetect.detect(text)
    except langdetect.LangDetectException:
        return None


def _has_term(term: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(term.strip())}(?!\w)", text, re.IGNORECASE) is not None


# ------------------------------------------------------------------------------------- range checkers
def span(low: int | None, high: int | None) -> str:
    """``exactly 3`` / ``between 3 and 5`` / ``at least 3`` / ``at most 5``."""
    if low is not None and high is not None:
        return f"exactly {low}" if low == high else f"between {low} and {high}"
    return f"at least {low}" if high is None else f"at most {high}"


def _range_checker(checker_id: str, req_type: str, unit: str, count: Callable[[str, Kwargs], int],
                   sentence: str | Callable[[Kwargs], str], needs_punkt: bool = False,
                   extra: dict[str, Param] | None = None) -> Checker:
    """A checker that keeps ``min_<unit> <= count(response, kwargs) <= max_<unit>``.

    ``sentence`` is a template with ``{span}`` or a function of the kwargs.
    """
    low, high = f"min_{unit}", f"max_{unit}"

    def relation(kwargs: Kwargs) -> str | None:
        if low not in kwargs and high not in kwargs:
            return f"needs {low} and/or {high}"
        if low in kwargs and high in kwargs and kwargs[low] > kwargs[high]:
            return f"{low} ({kwargs[low]}) exceeds {high} ({kwargs[high]})"
        return None

    def build(kwargs: Kwargs, prompt: str) -> Predicate:
        lo, hi = kwargs.get(low, 0), kwargs.get(high)

        def rule(text: str) -> bool:
            n = count(text, kwargs)
            return lo <= n and (hi is None or n <= hi)

        return rule

    def describe(kwargs: Kwargs) -> str:
        if callable(sentence):
            return sentence(kwargs)
        return sentence.format(span=span(kwargs.get(low), kwargs.get(high)))

    return Checker(
        id=checker_id,
        type=req_type,
        params={low: _COUNT, high: _COUNT, **(extra or {})},
        build=build,
        describe=describe,
        relation=relation,
        needs_punkt=needs_punkt,
    )


def _headings(text: str, kwargs: Kwargs) -> int:
    level = kwargs.get("level")
    return sum(1 for marks in _HEADING.findall(text) if level is None or len(marks) == level)


def _heading_sentence(kwargs: Kwargs) -> str:
    level = kwargs.get("level")
    which = f"level-{level} Markdown headings ({'#' * level} ...)" if level else "Markdown headings"
    return f"Organise the text under {span(kwargs.get('min_headings'), kwargs.get('max_headings'))} {which}."


# ------------------------------------------------------------------------------------- other checkers
def _simple(checker_id: str, req_type: str, params: dict[str, Param], rule: Callable[[str, Kwargs], bool],
            describe: Callable[[Kwargs], str], relation: Callable[[Kwargs], str | None] | None = None,
            needs_punkt: bool = False) -> Checker:
    return Checker(
        id=checker_id,
        type=req_type,
        params=params,
        build=lambda kwargs, prompt: lambda text: rule(text, kwargs),
        describe=describe,
        relation=relation or (lambda kwargs: None),
        needs_punkt=needs_punkt,
    )


def _table_ok(text: str, kwargs: Kwargs) -> bool:
    rows, columns = kwargs.get("min_rows", 1), kwargs.get("columns")
    return any(len(t) - 1 >= rows and (columns is None or len(t[0]) == columns) for t in tables(text))


def _table_sentence(kwargs: Kwargs) -> str:
    columns = f" with {kwargs['columns']} columns" if "columns" in kwargs else ""
    return f"Include a Markdown table{columns} and at least {kwargs.get('min_rows', 1)} data rows."


def _title_ok(text: str, kwargs: Kwargs) -> bool:
    first = text.strip().split("\n", 1)[0]
    match = re.match(r"#\s+(\S.*)$", first)
    return match is not None and len(words(match.group(1))) <= kwargs.get("max_words", 10**9)


def _title_sentence(kwargs: Kwargs) -> str:
    limit = f" of at most {kwargs['max_words']} words" if "max_words" in kwargs else ""
    return f"Open with a title{limit} as a level-1 Markdown heading (# Title)."


def _section_numbers(text: str, kwargs: Kwargs) -> list[int]:
    label = re.escape(kwargs.get("label", "Part"))
    return [int(n) for n in re.findall(rf"^\s*(?:#+\s*)?{label}\s+(\d+)\b", text, re.MULTILINE | re.IGNORECASE)]


def _signature_ok(text: str, kwargs: Kwargs) -> bool:
    lines = [line.strip() for line in text.strip().split("\n") if line.strip()]
    return len(lines) > 1 and lines[-1].lstrip("-–— ").strip().lower() == kwargs["name"].strip().lower()


def _quotes(text: str) -> int:
    return sum(1 for pair in _QUOTE.findall(text) if len(words(pair[0] or pair[1])) >= 2)


def _alternates(text: str, kwargs: Kwargs) -> bool:
    found = [detect_language(paragraph) for paragraph in paragraphs(text)]
    first, second = kwargs["languages"]
    return len(found) >= 2 and all(code == (first, second)[i % 2] for i, code in enumerate(found))


def _two_languages(kwargs: Kwargs) -> str | None:
    codes = kwargs["languages"]
    if len(codes) != 2 or codes[0] == codes[1]:
        return "languages must name two different language codes"
    unknown = [code for code in codes if code not in _LANGUAGES]
    return f"unknown language code(s) {unknown} (known: {', '.join(_LANGUAGES)})" if unknown else None


def _alternates_sentence(kwargs: Kwargs) -> str:
    first, second = (LANGUAGE_CODES[code] for code in kwargs["languages"])
    return f"Alternate languages paragraph by paragraph: {first} first, then {second}, and so on."


def _max_sentence_words(text: str, kwargs: Kwargs) -> bool:
    found = sentences(text)
    return bool(found) and all(len(words(s)) <= kwargs["max_words"] for s in found)


_TERMS = {"words": Param("words")}

for _checker in (
    _range_checker("writing:word_count", "length", "words", lambda t, k: len(words(t)), "Write {span} words."),
    _range_checker("writing:sentence_count", "length", "sentences", lambda t, k: len(sentences(t)),
                   "Use {span} sentences in the prose.", needs_punkt=True),
    _range_checker("writing:paragraph_count", "length", "paragraphs", lambda t, k: len(paragraphs(t)),
                   "Write {span} paragraphs, separated by blank lines."),
    _range_checker("writing:character_count", "length", "chars", lambda t, k: len(t.strip()),
                   "Keep the whole response to {span} characters."),
    _range_checker("writing:bullet_list", "format", "items", lambda t, k: len(_BULLET.findall(t)),
                   "Include {span} bullet points (lines starting with '- ')."),
    _range_checker("writing:numbered_list", "format", "items", lambda t, k: len(_NUMBERED.findall(t)),
                   "Include a numbered list of {span} items (1., 2., ...)."),
    _range_checker("writing:bold_phrases", "format", "phrases", lambda t, k: len(_BOLD.findall(t)),
                   "Put {span} key phrases in **bold**."),
    _range_checker("writing:headings", "structure", "headings", _headings, _heading_sentence,
                   extra={"level": Param("int", required=False, minimum=1, maximum=6)}),
    _range_checker("writing:quotations", "content", "quotes", lambda t, k: _quotes(t),
                   "Quote {span} short passages or sayings in double quotation marks."),
    _range_checker("writing:numbers", "content", "numbers", lambda t, k: len(_NUMBER.findall("\n\n".join(paragraphs(t)))),
                   "Give {span} concrete figures written as numerals."),
    _simple("writing:markdown_table", "format",
            {"min_rows": Param("int", required=False, minimum=1), "columns": Param("int", required=False, minimum=2)},
            _table_ok, _table_sentence),
    _simple("writing:title", "structure", {"max_words": Param("int", required=False, minimum=1)},
            _title_ok, _title_sentence),
    _simple("writing:numbered_sections", "structure",
            {"num_sections": Param("int", minimum=1), "label": Param("str", required=False)},
            lambda t, k: _section_numbers(t, k) == list(range(1, k["num_sections"] + 1)),
            lambda k: f"Divide the text into exactly {k['num_sections']} sections labelled "
                      f"'{k.get('label', 'Part')} 1', '{k.get('label', 'Part')} 2', and so on."),
    _simple("writing:starts_with", "structure", {"phrase": Param("str")},
            lambda t, k: t.lstrip().lower().startswith(k["phrase"].strip().lower()),
            lambda k: f"Begin the response with the words \"{k['phrase']}\"."),
    _simple("writing:signature", "structure", {"name": Param("str")}, _signature_ok,
            lambda k: f"End with a sign-off whose last line is the name \"{k['name']}\"."),
    _simple("writing:max_sentence_length", "style", {"max_words": Param("int", minimum=1)}, _max_sentence_words,
            lambda k: f"Keep every sentence to at most {k['max_words']} words.", needs_punkt=True),
    _simple("writing:no_first_person", "style", {}, lambda t, k: not FIRST_PERSON.search(t),
            lambda k: "Do not use first-person pronouns (I, me, my, we, us, our)."),
    _simple("writing:required_words", "lexical", _TERMS, lambda t, k: all(_has_term(w, t) for w in k["words"]),
            lambda k: "Use the words " + ", ".join(f"\"{w}\"" for w in k["words"]) + "."),
    _simple("writing:forbidden_words", "lexical", _TERMS, lambda t, k: not any(_has_term(w, t) for w in k["words"]),
            lambda k: "Do not use the words " + ", ".join(f"\"{w}\"" for w in k["words"]) + "."),
    _simple("writing:alternating_languages", "language", {"languages": Param("words")}, _alternates,
            _alternates_sentence, relation=_two_languages),
):
    register(_checker)
