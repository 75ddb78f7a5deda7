"""The 25 IFEval instructions as checkers, wrapped from ``if_verifiable.ifeval.instructions_registry``.

The rule of each id is the maintained reference implementation (Google's IFEval, Apache-2.0): it is built
with the requirement's kwargs and, as in IFEval's ``evaluation_lib``, given the prompt when it asks for
one. Its requirement sentence is the reference's own instruction description.

Randomness in the reference is pinned: ``langdetect`` is seeded (``DetectorFactory.seed = 0``), and
``build_description`` runs under ``random.seed(0)`` (global state restored afterwards), which matters for
one quirk: ``keywords:letter_frequency`` with a ``letter`` that is not an ASCII letter makes the reference
pick a letter at random; here that letter is always the same one, and the description names it.
"""

from __future__ import annotations

import random
from typing import Any

import langdetect
from if_verifiable.ifeval.instructions_registry import INSTRUCTION_DICT
from if_verifiable.ifeval.instructions_util import LANGUAGE_CODES

from wrl_lightning.requirements.checkers import Checker, Kwargs, Param, Predicate, register

langdetect.DetectorFactory.seed = 0

_RELATION = ("less than", "at least")
_COUNT = Param("int", minimum=0)

#: Requirement type of each IFEval id (a taxonomy name).
IFEVAL_TYPES: dict[str, str] = {
    "keywords:existence": "lexical",
    "keywords:frequency": "lexical",
    "keywords:forbidden_words": "lexical",
    "keywords:letter_frequency": "lexical",
    "language:response_language": "language",
    "length_constraints:number_sentences": "length",
    "length_constraints:number_paragraphs": "length",
    "length_constraints:number_words": "length",
    "length_constraints:nth_paragraph_first_word": "structure",
    "detectable_content:number_placeholders": "content",
    "detectable_content:postscript": "structure",
    "detectable_format:number_bullet_lists": "format",
    "detectable_format:constrained_response": "format",
    "detectable_format:number_highlighted_sections": "format",
    "detectable_format:multiple_sections": "structure",
    "detectable_format:json_format": "format",
    "detectable_format:title": "structure",
    "combination:two_responses": "structure",
    "combination:repeat_prompt": "structure",
    "startend:end_checker": "structure",
    "startend:quotation": "format",
    "change_case:capital_word_frequency": "format",
    "change_case:english_capital": "format",
    "change_case:english_lowercase": "format",
    "punctuation:no_comma": "format",
}

#: Keyword arguments of each IFEval id (all required: a missing one would be drawn at random).
IFEVAL_PARAMS: dict[str, dict[str, Param]] = {
    "keywords:existence": {"keywords": Param("words")},
    "keywords:frequency": {"keyword": Param("str"), "frequency": _COUNT, "relation": Param("str", choices=_RELATION)},
    "keywords:forbidden_words": {"forbidden_words": Param("words")},
    "keywords:letter_frequency": {
        "letter": Param("str"),
        "let_frequency": _COUNT,
        "let_relation": Param("str", choices=_RELATION),
    },
    "language:response_language": {"language": Param("str", choices=tuple(LANGUAGE_CODES))},
    "length_constraints:number_sentences": {"num_sentences": _COUNT, "relation": Param("str", choices=_RELATION)},
    "length_constraints:number_paragraphs": {"num_paragraphs": _COUNT},
    "length_constraints:number_words": {"num_words": _COUNT, "relation": Param("str", choices=_RELATION)},
    "length_constraints:nth_paragraph_first_word": {
        "num_paragraphs": Param("int", minimum=1),
        "nth_paragraph": Param("int", minimum=1),
        "first_word": Param("str"),
    },
    "detectable_content:number_placeholders": {"num_placeholders": _COUNT},
    "detectable_content:postscript": {"postscript_marker": Param("str")},
    "detectable_format:number_bullet_lists": {"num_bullets": _COUNT},
    "detectable_format:constrained_response": {},
    "detectable_format:number_highlighted_sections": {"num_highlights": _COUNT},
    "detectable_format:multiple_sections": {"section_spliter": Param("str"), "num_sections": _COUNT},
    "detectable_format:json_format": {},
    "detectable_format:title": {},
    "combination:two_responses": {},
    "combination:repeat_prompt": {"prompt_to_repeat": Param("str")},
    "startend:end_checker": {"end_phrase": Param("str")},
    "startend:quotation": {},
    "change_case:capital_word_frequency": {
        "capital_frequency": _COUNT,
        "capital_relation": Param("str", choices=_RELATION),
    },
    "change_case:english_capital": {},
    "change_case:english_lowercase": {},
    "punctuation:no_comma": {},
}

# Ids whose rule tokenizes with NLTK's Punkt data.
_NEEDS_PUNKT = {"length_constraints:number_sentences", "change_case:capital_word_frequency"}


def _relation(instruction_id: str, kwargs: Kwargs) -> str | None:
    if instruction_id == "keywords:letter_frequency" and len(kwargs.get("letter", "")) != 1:
        return "letter must be a single character"
    if instruction_id == "length_constraints:nth_paragraph_first_word" and kwargs["nth_paragraph"] > kwargs["num_paragraphs"]:
        return "nth_paragraph must not exceed num_paragraphs"
    return None


def _instruction(instruction_id: str, kwargs: Kwargs, prompt: str = "") -> tuple[Any, str]:
    """The reference instruction built from ``kwargs`` (seeded), and its description."""
    instruction = INSTRUCTION_DICT[instruction_id](instruction_id)
    state = random.getstate()
    random.seed(0)
    try:
        description = instruction.build_description(**kwargs)
        args = instruction.get_instruction_args()
        if args and "prompt" in args:
            instruction.build_description(prompt=prompt)
    finally:
        random.setstate(state)
    return instruction, description


def _builder(instruction_id: str):
    def build(kwargs: Kwargs, prompt: str) -> Predicate:
        instruction, _ = _instruction(instruction_id, kwargs, prompt)
        return lambda response: bool(instruction.check_following(response))

    return build


def _describer(instruction_id: str):
    return lambda kwargs: _instruction(instruction_id, kwargs)[1]


for _id, _type in IFEVAL_TYPES.items():
    register(
        Checker(
            id=_id,
            type=_type,
            params=IFEVAL_PARAMS[_id],
            build=_builder(_id),
            describe=_describer(_id),
            relation=lambda kwargs, _id=_id: _relation(_id, kwargs),
            needs_punkt=_id in _NEEDS_PUNKT,
        )
    )

if set(IFEVAL_TYPES) != set(INSTRUCTION_DICT):
    raise ImportError("if_verifiable's IFEval registry changed: " + ", ".join(sorted(set(INSTRUCTION_DICT) ^ set(IFEVAL_TYPES))))
