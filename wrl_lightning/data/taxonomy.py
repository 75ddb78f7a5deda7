"""Task categories and requirement types, with keyword heuristics for data that carries none.

Every record uses these names as metadata; WEval reports its breakdowns by them. ``unknown`` is allowed
for both so imported data without labels stays usable; any other name must be listed here.
"""

from __future__ import annotations

import re

#: Task categories of writing prompts (name -> description).
CATEGORIES: dict[str, str] = {
    "creative": "stories, poems, scripts, lyrics, fictional or imaginative writing",
    "functional": "business and professional documents: emails, reports, proposals, product copy",
    "academic": "essays, abstracts, literature reviews, explanations for study",
    "persuasive": "opinion pieces, speeches, advertisements, argumentative writing",
    "personal": "everyday and personal writing: letters, messages, diaries, social posts",
    "informational": "summaries, how-tos, descriptions, news-style and encyclopedic text",
    "unknown": "not labelled",
}

#: Requirement types (name -> description).
REQUIREMENT_TYPES: dict[str, str] = {
    "length": "how long: words, sentences, paragraphs, characters",
    "format": "presentation: Markdown, lists, tables, headings, JSON, case, punctuation",
    "structure": "organisation: sections, order, opening/closing, title, placeholders",
    "style": "style and tone: formal, humorous, audience, point of view, register",
    "content": "what must be said: topics, facts, examples, data points, quotes",
    "lexical": "word choice: required or forbidden keywords, letter frequency, phrases",
    "language": "which language(s) the response is written in",
    "unknown": "not labelled",
}

# Ordered keyword rules: the first type whose pattern matches wins.
_TYPE_RULES: list[tuple[str, str]] = [
    ("language", r"\b(english|french|spanish|german|chinese|mandarin|japanese|korean|italian|portuguese|hindi|arabic|russian|bengali|swahili|bilingual|multilingual)\b|\b(other|another|target|native|same) language\b"),
    ("length", r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten)\s*(\+\s*)?(words?|sentences?|paragraphs?|characters?|lines?|stanzas?|pages?)\b|\b(word count|at (least|most)|no more than|fewer than|less than|under|exactly)\b.*\b(words?|sentences?|paragraphs?)\b"),
    ("format", r"\b(markdown|bullet|numbered|list|table|json|bold|italic|heading|capital|uppercase|lowercase|comma|punctuation|quotation marks|emoji|font|highlight)\b"),
    ("structure", r"\b(section|title|begin|start|end|conclude|conclusion|introduction|order|structure|format as|divided|postscript|p\.s\.|placeholder|subject line|signature|greeting)\b"),
    ("lexical", r"\b(keyword|the word|the phrase|words? ['\"]|avoid using|do not use|don't use|without using|letter|include the term|mention the term)\b"),
    ("style", r"\b(tone|style|formal|informal|colloquial|humou?r|funny|serious|voice|perspective|first[- ]person|second[- ]person|third[- ]person|audience|metaphor|rhym|alliteration|persuasive|empathetic|professional|casual|witty)\b"),
    ("content", r"\b(include|mention|describe|discuss|explain|example|statistic|data|fact|quote|reference|cite|highlight|focus on|address)\b"),
]

_CATEGORY_RULES: list[tuple[str, str]] = [
    ("creative", r"\b(story|poem|poetry|haiku|limerick|song|lyrics|script|screenplay|fiction|fairy ?tale|novel|character|rap|sonnet|fable)\b"),
    ("persuasive", r"\b(persuade|persuasive|convince|argue|argument|advert|ad copy|slogan|pitch|campaign|speech|op-?ed|opinion)\b"),
    ("academic", r"\b(essay|abstract|research|thesis|paper|literature review|academic|scientific|analy[sz]e|analysis|study)\b"),
    ("functional", r"\b(email|e-mail|memo|report|proposal|resume|cv|cover letter|business|product description|press release|meeting|job|company|customer|marketing|policy)\b"),
    ("personal", r"\b(letter to|my (friend|mom|dad|mother|father|wife|husband|partner|boss)|diary|journal|birthday|wedding|toast|thank[- ]you|apology|social media|tweet|post|message|text to)\b"),
    ("informational", r"\b(summar|explain|describe|how to|guide|tutorial|overview|news|article|blog|wikipedia|biography|history of)\b"),
]


def infer_requirement_type(text: str) -> str:
    """Best-effort requirement type from its wording (``unknown`` when nothing matches)."""
    lowered = text.lower()
    for name, pattern in _TYPE_RULES:
        if re.search(pattern, lowered):
            return name
    return "unknown"


def infer_category(prompt: str) -> str:
    """Best-effort task category from a writing prompt (``unknown`` when nothing matches)."""
    lowered = prompt.lower()
    for name, pattern in _CATEGORY_RULES:
        if re.search(pattern, lowered):
            return name
    return "unknown"
