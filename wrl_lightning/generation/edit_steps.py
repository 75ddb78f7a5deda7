"""The plan steps of the ``edit`` generator: one per verifiable checker id, registered in :data:`PLANS`.

A step ``step(draft, kwargs, keep)`` changes a :class:`~wrl_lightning.generation.edit_draft.Draft` so that
the rendered response keeps (``keep=True``) or breaks (``keep=False``) one requirement with the given
checker kwargs, and returns ``False`` when it cannot (e.g. a language it cannot write). Lengths are not set
here: the generator's layout search tries paragraph counts, sentences per paragraph and sentence styles
until every label holds. Every registered checker id has a step.
"""

from __future__ import annotations

from collections.abc import Callable

from wrl_lightning.generation.edit_draft import Draft, Kwargs
from wrl_lightning.generation.edit_text import FOREIGN

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
    """A count inside ``[low, high]`` (keep) or outside it (break: ``high + 1``, else none at all, as a response
    not asked for the feature would be; 0 also when it cannot be broken)."""
    low = low or 0
    if keep:
        return max(low, natural) if high is None else min(max(low, natural), high)
    if high is not None:
        return high + 1
    return 0


@plan("writing:word_count", "writing:paragraph_count", "writing:character_count",
      "length_constraints:number_words", "length_constraints:number_sentences")
def _by_search(d: Draft, k: Kwargs, keep: bool) -> None:
    """Lengths are found by the layout search."""


@plan("writing:sentence_count")
def _sentence_target(d: Draft, k: Kwargs, keep: bool) -> None:
    """The layout search tries sentence totals near a count inside (keep) or outside (break) the range first."""
    d.sentence_target = inside(k.get("min_sentences"), k.get("max_sentences"), keep, natural=8) or None


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
def _md_title(d: Draft, k: Kwargs, keep: bool) -> None:
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
