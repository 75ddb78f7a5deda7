"""Phrase banks of the ``edit`` writer for features asked in plain words (no rule checker).

Metaphors, statistics, citations, dated events, rhetorical questions, tone markers, Chinese sentences and
keyword sentences: each bank is combined from parts by a seeded :class:`random.Random`, so a response shows
the feature in varied wording and a response without the feature shows none of these markers. Templates
use ``{topic}`` / ``{Topic}``; none contains quotation marks or asterisks.
"""

from __future__ import annotations

import random

#: Metaphor vehicles (``a {vehicle}``) and what they do (``{act}``), combined per sentence.
METAPHOR_VEHICLES = ["storm", "river", "garden", "lighthouse", "bridge", "compass", "engine", "tide", "wildfire",
                     "seed", "mountain", "tapestry", "fog bank", "harbour", "ladder", "orchestra", "beehive",
                     "glacier", "spark", "map"]
METAPHOR_FORMS = [
    "{Topic} is a {vehicle} that {act}.",
    "Like a {vehicle}, {topic} {act}.",
    "{Topic} works like a {vehicle} that {act}.",
    "In many ways {topic} is a {vehicle}, one that {act}.",
    "Think of {topic} as a {vehicle} that {act}.",
]
METAPHOR_ACTS = ["slowly reshapes everything it touches", "carries people further than they planned",
                 "gathers strength before anyone notices", "lights a path through uncertain ground",
                 "connects places that once felt far apart", "keeps moving long after the first push",
                 "grows quietly until it fills the whole field", "pulls every small piece into one pattern"]

#: Statistics: a share or count, a group, and what was found.
STAT_FORMS = [
    "About {n}% of {group} {finding}.",
    "A recent survey found that {n}% of {group} {finding}.",
    "Nearly {n}% of {group} {finding}, by most estimates.",
    "According to one report, {n}% of {group} {finding}.",
    "Data from the last decade show that {n}% of {group} {finding}.",
]
STAT_GROUPS = ["people asked", "households", "local residents", "small businesses", "students", "workers",
               "readers", "respondents", "families", "teachers"]
STAT_FINDINGS = ["noticed a clear change", "said {topic} affected their plans", "reported better results",
                 "wanted more information", "changed their habits within a year", "rated the effect as strong"]

#: In-text citations (APA style): author surnames and years.
AUTHORS = ["Alvarez", "Brennan", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Iwata", "Jensen",
           "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Santos", "Tanaka"]
CITED_CLAIMS = ["Research on {topic} supports this view", "Earlier work reached a similar conclusion",
                "Scholars have described the same pattern", "One study traced the effect over several years",
                "A broad review of {topic} points in the same direction"]

#: Dated events in chronological order: an opening, then later steps.
TIMELINE_FORMS = ["In {year}, the first discussions of {topic} began.",
                  "By {year}, {topic} had reached a much wider audience.",
                  "In {year}, new rules changed how {topic} was handled.",
                  "By {year}, the results of {topic} were plain to see."]

#: Rhetorical questions.
QUESTIONS = ["What would change if {topic} were taken seriously?", "Who benefits when {topic} is ignored?",
             "Is there any reason left to wait?", "How long can anyone look away from {topic}?",
             "What kind of future does {topic} promise?", "Why does {topic} matter so much to so many?"]

#: Openers that mark a register when put in front of a prose sentence.
TONE_OPENERS = {
    "formal": ["Furthermore, ", "Consequently, ", "Moreover, ", "Accordingly, ", "It should be noted that ",
               "In addition, "],
    "colloquial": ["Honestly, ", "Look, ", "Let's be real, ", "So yeah, ", "Here's the thing: ",
                   "To be fair, "],
    "humorous": ["Funnily enough, ", "Believe it or not, ", "Somewhat absurdly, ", "With a straight face, "],
}

#: Simple Chinese sentences (topic-free), interleaved with English sentences.
CHINESE = ["这个问题值得每个人认真思考。", "一开始总是最困难的阶段。", "只要有耐心，结果很快就会出现。",
           "做决定之前应该仔细检查细节。", "很多人发现坚持练习可以改变一切。", "清楚的表达比速度更重要。",
           "社会的变化往往来自小小的行动。", "人们需要更多可靠的信息。"]

#: Sentences that use a required keyword.
KEYWORD_FORMS = ["The {kw} mattered more than anyone expected.", "Talk soon turned to the {kw}.",
                 "Any honest account has to mention the {kw}.", "Much depended on the {kw} in the end.",
                 "Nobody could ignore the {kw} for long.", "It all comes back to the {kw}."]

#: Short table cell phrases.
CELLS = ["early signs", "clear benefits", "rising costs", "shared goals", "local impact", "open questions",
         "practical steps", "long-term effects", "public support", "quick wins", "hidden risks", "next moves",
         "key figures", "common ground", "lessons learned", "fresh ideas"]

#: Number words for requirement texts and their parsing.
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}


def metaphor(rng: random.Random) -> str:
    return rng.choice(METAPHOR_FORMS).format(vehicle=rng.choice(METAPHOR_VEHICLES), act=rng.choice(METAPHOR_ACTS),
                                             topic="{topic}", Topic="{Topic}")


def statistic(rng: random.Random) -> str:
    finding = rng.choice(STAT_FINDINGS)
    return rng.choice(STAT_FORMS).format(n=rng.randint(12, 88), group=rng.choice(STAT_GROUPS), finding=finding)


def citation(rng: random.Random) -> str:
    first, second = rng.sample(AUTHORS, 2)
    who = first if rng.random() < 0.5 else f"{first} & {second}"
    return f"{rng.choice(CITED_CLAIMS)} ({who}, {rng.randint(1995, 2023)})."


def timeline(rng: random.Random, count: int) -> list[str]:
    years = sorted(rng.sample(range(1950, 2024), count))
    forms = TIMELINE_FORMS * (count // len(TIMELINE_FORMS) + 1)
    return [form.format(year=year, topic="{topic}") for form, year in zip(forms, years, strict=False)]
