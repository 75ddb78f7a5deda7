"""Phrase bank of the embedded writing prompts: genres and subjects per task category, requirement makers.

:func:`compose` draws one prompt — a task (genre x subject, in one of several wordings) and five
requirements in the order real multi-requirement prompts use: a length or layout rule, a presentation
format, a content demand, a style or language demand, then a word-choice ban. Each slot draws from
several requirement kinds in varied wording; most carry a rule checker (labels verified), the others are
plain-language demands the ``edit`` writer shows through its cues (metaphors, citations, tone, Chinese
sentences, dated events). All text here is written for the project.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

Row = dict[str, Any]

#: Task category -> (genres, subjects). A subject is (phrase, two content words, a topical noun to ban).
BANK: dict[str, tuple[list[str], list[tuple[str, list[str], str]]]] = {
    "creative": (
        ["short story", "poem", "fable", "screenplay scene", "bedtime story", "monologue"],
        [("a lighthouse keeper on a stormy night", ["lantern", "tide"], "sea"),
         ("a robot learning to paint", ["canvas", "brush"], "machine"),
         ("a lost dog finding its way home", ["collar", "porch"], "puppy"),
         ("two rival bakers in a mountain village", ["oven", "flour"], "bread"),
         ("a girl who can hear the trees", ["roots", "whisper"], "forest"),
         ("an astronaut returning to Earth", ["capsule", "ocean"], "space"),
         ("a detective chasing a stolen violin", ["clue", "alley"], "music"),
         ("a dragon afraid of fire", ["cave", "ember"], "flame"),
         ("the last bookshop in a city", ["shelves", "rain"], "books"),
         ("a grandmother teaching her grandson to fish", ["river", "patience"], "water"),
         ("a train that only runs at midnight", ["platform", "ticket"], "night"),
         ("a painter who loses her sight", ["colour", "memory"], "art")],
    ),
    "functional": (
        ["email to the team", "project status report", "business proposal", "product description",
         "press release", "meeting summary"],
        [("moving the office to a new building", ["parking", "schedule"], "office"),
         ("launching a reusable water bottle", ["bottle", "warranty"], "plastic"),
         ("a delay in the website redesign", ["deadline", "budget"], "website"),
         ("a new customer loyalty programme", ["points", "members"], "discount"),
         ("switching to a four-day work week", ["productivity", "survey"], "hours"),
         ("the quarterly sales results", ["revenue", "region"], "profit"),
         ("a cybersecurity training day", ["passwords", "phishing"], "hackers"),
         ("opening a second cafe location", ["lease", "staff"], "coffee"),
         ("replacing the accounting software", ["invoices", "training"], "system"),
         ("a company volunteering day", ["park", "volunteers"], "charity"),
         ("a recall of faulty phone chargers", ["refund", "safety"], "battery"),
         ("hiring a new marketing manager", ["interviews", "candidates"], "salary")],
    ),
    "academic": (
        ["essay", "research abstract", "literature review", "analysis", "study guide"],
        [("the causes of the French Revolution", ["monarchy", "bread"], "king"),
         ("the effects of social media on teenagers", ["sleep", "anxiety"], "phones"),
         ("climate change and coastal cities", ["flooding", "migration"], "weather"),
         ("the Industrial Revolution and factory workers", ["wages", "machines"], "factory"),
         ("the role of bees in agriculture", ["pollination", "crops"], "honey"),
         ("the history of the printing press", ["literacy", "Gutenberg"], "books"),
         ("urban heat islands", ["asphalt", "trees"], "summer"),
         ("bilingual education in primary schools", ["vocabulary", "parents"], "language"),
         ("antibiotic resistance", ["bacteria", "prescriptions"], "medicine"),
         ("the economics of the gig economy", ["contracts", "platforms"], "drivers"),
         ("the fall of the Roman Empire", ["legions", "taxes"], "emperor"),
         ("sleep and memory in adults", ["dreams", "recall"], "brain")],
    ),
    "persuasive": (
        ["opinion piece", "speech", "advertisement", "op-ed", "campaign pitch"],
        [("banning cars from the city centre", ["cyclists", "air"], "traffic"),
         ("a four-day school week", ["teachers", "rest"], "homework"),
         ("free public transport", ["buses", "fares"], "tickets"),
         ("planting a million urban trees", ["shade", "birds"], "concrete"),
         ("raising the minimum wage", ["rent", "families"], "money"),
         ("universal basic income", ["security", "welfare"], "jobs"),
         ("adopting shelter animals", ["kennels", "vaccines"], "pets"),
         ("nuclear power as clean energy", ["reactors", "emissions"], "coal"),
         ("keeping libraries open late", ["students", "quiet"], "books"),
         ("mandatory cooking classes in schools", ["vegetables", "habits"], "food"),
         ("protecting local wetlands", ["frogs", "floods"], "nature"),
         ("a tax on sugary drinks", ["dentists", "children"], "soda")],
    ),
    "personal": (
        ["letter to a friend", "diary entry", "thank-you note", "social media post", "wedding toast"],
        [("my first year living abroad", ["homesick", "market"], "travel"),
         ("a hiking trip that went wrong", ["blisters", "map"], "mountain"),
         ("learning to cook from my father", ["recipe", "kitchen"], "dinner"),
         ("finishing my first marathon", ["finish", "cramps"], "running"),
         ("my grandmother's garden", ["tomatoes", "bench"], "flowers"),
         ("starting a new job", ["colleagues", "nerves"], "office"),
         ("a friend who helped me move house", ["boxes", "van"], "apartment"),
         ("the birth of my niece", ["hospital", "tiny"], "baby"),
         ("a summer spent on a farm", ["tractor", "hay"], "animals"),
         ("my sister's wedding", ["vows", "dance"], "love"),
         ("adopting a rescue cat", ["whiskers", "shelter"], "kitten"),
         ("graduating from university", ["gown", "exams"], "degree")],
    ),
    "informational": (
        ["how-to guide", "news article", "blog post", "overview", "explainer"],
        [("composting at home", ["worms", "scraps"], "garbage"),
         ("how vaccines train the immune system", ["antibodies", "cells"], "disease"),
         ("the rise of electric scooters", ["batteries", "helmets"], "streets"),
         ("saving money on groceries", ["coupons", "list"], "shopping"),
         ("the history of tea", ["leaves", "trade"], "China"),
         ("how to start running", ["shoes", "pace"], "exercise"),
         ("keeping houseplants alive", ["sunlight", "soil"], "leaves"),
         ("the basics of personal budgeting", ["expenses", "savings"], "money"),
         ("how recycling plants sort waste", ["magnets", "conveyor"], "bins"),
         ("preparing for a job interview", ["questions", "posture"], "resume"),
         ("how volcanoes form", ["magma", "plates"], "lava"),
         ("the life cycle of a butterfly", ["caterpillar", "chrysalis"], "wings")],
    ),
}

#: Column-name sets for tables, per category.
COLUMNS: dict[str, list[list[str]]] = {
    "creative": [["Scene", "Action", "Mood"], ["Character", "Line"], ["Moment", "Image", "Feeling"]],
    "functional": [["Task", "Owner", "Deadline"], ["Item", "Status"], ["Feature", "Benefit", "Note"]],
    "academic": [["Aspect", "Evidence", "Interpretation"], ["Cause", "Effect"], ["Period", "Event", "Impact"]],
    "persuasive": [["Claim", "Evidence", "Counterpoint"], ["Problem", "Solution"], ["Argument", "Reason", "Benefit"]],
    "personal": [["Moment", "Feeling", "Memory"], ["Day", "What happened"], ["Person", "Gift", "Thanks"]],
    "informational": [["Step", "Details", "Tip"], ["Term", "Meaning"], ["Stage", "What happens", "Why it matters"]],
}

TASKS = ["Write a {genre} about {subject}.", "Can you write a {genre} about {subject}?",
         "I need a {genre} about {subject}.", "Draft a {genre} about {subject}.",
         "Please write me a {genre} about {subject}.", "Compose a {genre} about {subject}."]
WORDS = {2: "two", 3: "three", 4: "four", 5: "five"}
LANGUAGES = {"fr": "French", "es": "Spanish", "de": "German", "it": "Italian", "pt": "Portuguese"}
OPENINGS = ["Once upon a time", "Dear team", "Good evening", "Picture this", "Here is the truth",
            "Let me be clear", "First things first", "Imagine a world"]
NAMES = ["Sam", "Priya", "Jonas", "Maria", "Kofi", "Lena"]


def _req(text: str, type_: str, checker: str | None = None, **kwargs: Any) -> Row:
    row: Row = {"text": text, "type": type_}
    if checker:
        row.update(checker=checker, kwargs=kwargs)
    return row


Maker = Callable[[random.Random, dict[str, Any]], Row]


# ------------------------------------------------------------------------ slot 1: length or layout
def _sentences(rng, s):
    n = rng.randint(5, 10)
    text = rng.choice(["Write exactly {n} sentences.", "Use exactly {n} sentences in total.",
                       "The response must be exactly {n} sentences long.", "Keep it to exactly {n} sentences."])
    return _req(text.format(n=n), "length", "writing:sentence_count", min_sentences=n, max_sentences=n)


def _paragraphs(rng, s):
    n = rng.randint(2, 4)
    text = rng.choice(["Divide the {genre} into exactly {w} paragraphs.", "Write exactly {w} paragraphs.",
                       "Use {w} paragraphs, separated by blank lines."])
    return _req(text.format(w=WORDS[n], genre=s["genre"]), "length", "writing:paragraph_count",
                min_paragraphs=n, max_paragraphs=n)


def _word_range(rng, s):
    low = rng.choice([60, 80, 100])
    high = low + rng.choice([60, 90, 120])
    text = rng.choice(["Keep it between {a} and {b} words.", "The {genre} should be {a} to {b} words long.",
                       "Stay within {a}-{b} words."])
    return _req(text.format(a=low, b=high, genre=s["genre"]), "length", "writing:word_count",
                min_words=low, max_words=high)


def _sections(rng, s):
    n, label = rng.randint(2, 4), rng.choice(["Part", "Section"])
    text = rng.choice(["Divide it into exactly {w} sections labelled '{l} 1', '{l} 2', and so on.",
                       "Split the {genre} into {w} sections titled {l} 1 to {l} {n}."])
    return _req(text.format(w=WORDS[n], l=label, n=n, genre=s["genre"]), "structure", "writing:numbered_sections",
                num_sections=n, label=label)


# ------------------------------------------------------------------------------- slot 2: format or opening
def _table(rng, s):
    names = rng.choice(COLUMNS[s["category"]])
    listed = ", ".join(f"'{n}'" for n in names[:-1]) + f" and '{names[-1]}'"
    text = rng.choice(["Present the {genre} in a Markdown table with columns {c}.",
                       "Organise the content in a Markdown table with the columns {c}.",
                       "Include a Markdown table with {c} as its columns."])
    return _req(text.format(genre=s["genre"], c=listed), "format", "writing:markdown_table",
                columns=len(names), min_rows=2)


def _numbered(rng, s):
    n = rng.randint(3, 5)
    text = rng.choice(["Present the main points as a numbered list of at least {w} items.",
                       "Include a numbered list with at least {w} steps."])
    return _req(text.format(w=WORDS[n]), "format", "writing:numbered_list", min_items=n)


def _bullets(rng, s):
    n = rng.randint(3, 5)
    text = rng.choice(["Include a bulleted list of at least {w} points.", "Summarise the key ideas in {w} or more bullet points."])
    return _req(text.format(w=WORDS[n]), "format", "writing:bullet_list", min_items=n)


def _title(rng, s):
    text = rng.choice(["Give the {genre} a title as a level-1 Markdown heading.",
                       "Start with a Markdown title line (# Title) of at most six words."])
    return _req(text.format(genre=s["genre"]), "structure", "writing:title", max_words=6)


def _bold(rng, s):
    n = rng.randint(2, 3)
    return _req(f"Put at least {WORDS[n]} key phrases in bold.", "format", "writing:bold_phrases", min_phrases=n)


def _opening(rng, s):
    phrase = rng.choice(OPENINGS)
    return _req(f"Begin the response with the words \"{phrase}\".", "structure", "writing:starts_with", phrase=phrase)


# ------------------------------------------------------------------------------ slot 3: content
def _metaphors(rng, s):
    n = rng.choice([1, 2, 2, 3])
    many = "a metaphor" if n == 1 else f"at least {WORDS[n]} metaphors"
    text = rng.choice(["Include {m} comparing {t} to natural phenomena.", "Use {m} to describe {t}.",
                       "Add {m} or similes that bring {t} to life."])
    return _req(text.format(m=many, t=s["short"]), "style")


def _statistics(rng, s):
    n = rng.randint(2, 3)
    text = rng.choice(["Include at least {w} statistical data points about {t}.",
                       "Support the text with at least {w} statistics, written as numerals.",
                       "Give at least {w} concrete figures or percentages."])
    return _req(text.format(w=WORDS[n], t=s["short"]), "content", "writing:numbers", min_numbers=n)


def _quotes(rng, s):
    text = rng.choice(["Include one direct quotation in double quotation marks.",
                       "Quote at least one person directly, in double quotation marks.",
                       "Add a direct quotation from an expert or a witness."])
    return _req(text, "content", "writing:quotations", min_quotes=1)


def _mention(rng, s):
    a, b = s["words"]
    text = rng.choice(["Mention the {a} and the {b}.", "Be sure to mention {a} and {b}.",
                       "Refer to both {a} and {b} somewhere in the text."])
    return _req(text.format(a=a, b=b), "content", "writing:required_words", words=[a, b])


def _citations(rng, s):
    n = rng.randint(1, 2)
    many = "one source" if n == 1 else "at least two sources"
    text = rng.choice(["Cite {m} in APA style (Author, Year).", "Support the claims with {m}, cited in APA style."])
    return _req(text.format(m=many), "content")


# -------------------------------------------------------------------- slot 4: style or language
def _alternate(rng, s):
    code = rng.choice(sorted(LANGUAGES))
    text = rng.choice(["Alternate between English and {l} paragraph by paragraph, starting with English.",
                       "Write the paragraphs alternately in English and {l}, English first."])
    return _req(text.format(l=LANGUAGES[code]), "language", "writing:alternating_languages", languages=["en", code])


def _chinese(rng, s):
    text = rng.choice(["Alternate between English and Chinese for each sentence, starting with English.",
                       "Follow every English sentence with a sentence in Chinese."])
    return _req(text, "language")


def _tone(rng, s):
    return _req(rng.choice(["Maintain a formal, academic tone throughout.", "Alternate between formal and colloquial "
                            "language in consecutive sentences.", "Use a casual, conversational tone.",
                            "Keep the tone humorous and light."]), "style")


def _chronology(rng, s):
    return _req(rng.choice(["Present the events in chronological order, with years.",
                            "Describe the developments in chronological order, giving a date for each."]), "structure")


def _question(rng, s):
    return _req(rng.choice(["Include at least one rhetorical question.", "Pose a rhetorical question to the reader."]),
                "style")


def _short_sentences(rng, s):
    n = rng.choice([12, 15, 18])
    return _req(f"Keep every sentence under {n + 1} words.", "style", "writing:max_sentence_length", max_words=n)


def _signature(rng, s):
    name = rng.choice(NAMES)
    return _req(f"End with a sign-off whose last line is the name \"{name}\".", "structure", "writing:signature",
                name=name)


# ------------------------------------------------------------------------------- slot 5: word choice
def _no_first_person(rng, s):
    return _req(rng.choice(["Do not use any first-person pronouns.", "Avoid first-person pronouns (I, me, my, we, our)."]),
                "style", "writing:no_first_person")


def _ban(rng, s):
    word = s["ban"]
    text = rng.choice(["Do not use the word '{w}' anywhere.", "Avoid the word '{w}'.",
                       "Never use the word '{w}' in the {genre}."])
    return _req(text.format(w=word, genre=s["genre"]), "lexical", "writing:forbidden_words", words=[word])


def _ban_with_pronouns(rng, s):
    word = s["ban"]
    text = rng.choice(["Do not use first-person pronouns or the word '{w}'.",
                       "Avoid the word '{w}' and any first-person pronouns."])
    return _req(text.format(w=word), "lexical", "writing:forbidden_words", words=[word, "I", "me", "my", "we", "us", "our"])


#: The five slots: (maker, weight) lists.
SLOTS: list[list[tuple[Maker, int]]] = [
    [(_sentences, 4), (_paragraphs, 2), (_word_range, 2), (_sections, 1)],
    [(_table, 4), (_numbered, 1), (_bullets, 1), (_title, 1), (_bold, 1), (_opening, 1)],
    [(_metaphors, 3), (_statistics, 2), (_quotes, 2), (_mention, 2), (_citations, 2)],
    [(_alternate, 2), (_chinese, 2), (_tone, 3), (_chronology, 2), (_question, 1), (_short_sentences, 1),
     (_signature, 1)],
    [(_no_first_person, 2), (_ban, 2), (_ban_with_pronouns, 2)],
]


def compose(rng: random.Random, category: str, prompt_id: str) -> Row:
    """One prompt row (``id``, ``category``, ``prompt``, ``requirements``) drawn with ``rng``."""
    genres, subjects = BANK[category]
    genre = rng.choice(genres)
    subject, words, ban = rng.choice(subjects)
    short = subject.replace("my ", "the ")
    slots = {"category": category, "genre": genre, "words": words, "ban": ban, "short": short}
    requirements = []
    for options in SLOTS:
        makers, weights = zip(*options, strict=True)
        requirements.append(rng.choices(makers, weights)[0](rng, slots))
    if rng.random() < 0.2:  # some prompts carry four requirements
        requirements.pop(rng.randrange(1, 4))
    article = "an" if genre[0] in "aeio" else "a"
    prompt = rng.choice(TASKS).format(genre=genre, subject=subject).replace(" a ", f" {article} ", 1)
    return {"id": prompt_id, "category": category, "prompt": prompt, "requirements": requirements}
