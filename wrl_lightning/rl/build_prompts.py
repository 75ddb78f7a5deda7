"""Rebuild the embedded RL prompt set: ``python -m wrl_lightning.rl.build_prompts``.

A policy trained with a rule reward on these prompts should learn what transfers to IFEval, yet the project
evaluates on a held-out set of IFEval's own prompts, so none of IFEval's texts is used: the 30 everyday
writing tasks below (emails, notes, product copy, stories, poems, tips, summaries of a paragraph written
here; five per task category) are our own. Each task is paired with four different verifiable IFEval
instructions from :data:`INSTRUCTIONS`, ids a small instruction-tuned model sometimes keeps and sometimes
not (so rewards vary within a group of samples); about a fifth of the prompts get a second, compatible
instruction. Choices are seeded, so the result is deterministic; it is committed as package data in
``data/builtin/rl_prompts.jsonl`` (rows of the prompt-file format: ``prompt_id``, ``category``, ``prompt``
(the task), ``requirements``) and read by the RL prompt reader ``builtin_rl``.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from wrl_lightning.requirements.checkers import make_requirement
from wrl_lightning.utils.files import write_jsonl
from wrl_lightning.utils.resolvers import BUILTIN_DIR

FILE_NAME = "rl_prompts.jsonl"
SEED = 0
SLOTS_PER_TASK = 4
SECOND_SHARE = 0.2

#: The IFEval instruction ids the prompts are drawn from.
INSTRUCTIONS: tuple[str, ...] = (
    "change_case:english_lowercase",
    "punctuation:no_comma",
    "keywords:existence",
    "keywords:forbidden_words",
    "keywords:frequency",
    "length_constraints:number_words",
    "length_constraints:number_sentences",
    "startend:end_checker",
    "startend:quotation",
    "detectable_content:postscript",
    "detectable_format:title",
    "change_case:english_capital",
    "detectable_format:number_bullet_lists",
    "detectable_format:json_format",
)

# Pairs of instructions never given together (contradictory, or confusing for a small model).
_CONFLICTS: set[frozenset[str]] = {
    frozenset(pair)
    for pair in [
        ("change_case:english_lowercase", "change_case:english_capital"),
        ("change_case:english_lowercase", "detectable_content:postscript"),
        ("change_case:english_lowercase", "startend:end_checker"),
        ("keywords:existence", "keywords:frequency"),
        ("length_constraints:number_words", "length_constraints:number_sentences"),
        ("length_constraints:number_sentences", "detectable_format:number_bullet_lists"),
        ("startend:quotation", "startend:end_checker"),
        ("startend:quotation", "detectable_content:postscript"),
        ("startend:end_checker", "detectable_content:postscript"),
        *[
            ("detectable_format:json_format", other)
            for other in (
                "punctuation:no_comma",
                "length_constraints:number_sentences",
                "startend:end_checker",
                "startend:quotation",
                "detectable_content:postscript",
                "detectable_format:title",
                "detectable_format:number_bullet_lists",
            )
        ],
    ]
}

# End phrases close with "!" or "?": IFEval's sentence appends a period, which must not read as part of it.
_END_PHRASES = (
    "Have a wonderful day!",
    "See you soon!",
    "Thanks for reading!",
    "Would you like to hear more?",
    "Does that sound good?",
    "What do you think?",
)


_LAST = "detectable_format:number_bullet_lists"


@dataclass(frozen=True)
class Task:
    """A writing task: its category, the task sentence, a topical keyword and topical words to forbid."""

    category: str
    text: str
    keyword: str
    avoid: tuple[str, ...]


_MARKET = (
    "Every Saturday morning the old square in Marlow turns into a market. Farmers arrive before dawn with crates "
    "of apples, cheese and bread, and by eight o'clock the stalls are crowded with families. The market began "
    "forty years ago with only six sellers; today it has more than sixty, and the town council is debating "
    "whether to close the nearby street to cars so that it can grow further."
)
_OCTOPUS = (
    "The common octopus has three hearts and blue blood. Two of the hearts pump blood through the gills, while "
    "the third sends it to the rest of the body. Octopuses are also good at solving problems: in aquariums they "
    "have been seen unscrewing jar lids and slipping out of their tanks at night to look for food."
)
_LEAVES = (
    "In autumn, trees stop making chlorophyll, the green pigment that captures sunlight. As the green fades, "
    "yellow and orange pigments that were in the leaves all along become visible. Some trees also produce new "
    "red pigments when the days are sunny and the nights are cool, which is why some autumns are more colorful "
    "than others."
)

#: The writing tasks, five per category (our own texts, none taken from IFEval).
TASKS: tuple[Task, ...] = (
    Task("creative", "Write a short story about a girl who teaches her grandmother to ride a bicycle.",
         "bicycle", ("bike", "pedal")),
    Task("creative", "Write a poem about the first snowfall of winter in a small town.", "snow", ("white", "cold")),
    Task("creative", "Write a short story about a robot that works in a bakery and learns to bake bread.",
         "bread", ("oven",)),
    Task("creative", "Write a limerick about a cat who refuses to get out of bed.", "cat", ("sleep",)),
    Task("creative", "Write a short fairy tale about a fox who borrows the moon for one night.", "moon", ("stars",)),
    Task("functional", "Write an email to your landlord asking for the leaking kitchen sink to be repaired.",
         "sink", ("broken", "urgent")),
    Task("functional", "Write a product description for a reusable water bottle that keeps drinks cold all day.",
         "bottle", ("plastic",)),
    Task("functional", "Write a short note to your team announcing that the Friday meeting has moved to Thursday "
         "afternoon.", "Thursday", ("sorry",)),
    Task("functional", "Write a product description for a handmade wooden chess set.", "chess", ("board", "pieces")),
    Task("functional", "Write an email to a customer explaining that their order will arrive three days late.",
         "order", ("delay",)),
    Task("academic", "Explain to a high school student why the sky looks blue during the day.", "light",
         ("scattering",)),
    Task("academic", "Write a short paragraph explaining how bees help plants grow fruit.", "pollen",
         ("flower", "flowers")),
    Task("academic", "Explain the difference between weather and climate in simple terms.", "climate",
         ("temperature",)),
    Task("academic", "Write a short essay on why learning a second language is useful.", "language", ("travel",)),
    Task("academic", f'Summarize this paragraph for a student: "{_LEAVES}"', "pigment", ("green",)),
    Task("persuasive", "Write a short speech persuading your neighbors to plant more trees on your street.",
         "trees", ("shade",)),
    Task("persuasive", "Write an advertisement for a new bakery that opens early in the morning.", "fresh",
         ("delicious",)),
    Task("persuasive", "Write a short argument for why schools should start one hour later in the morning.",
         "sleep", ("tired",)),
    Task("persuasive", "Convince a friend to try cycling to work instead of driving.", "health", ("car",)),
    Task("persuasive", "Write a short opinion piece arguing that every town needs a public library.", "library",
         ("books",)),
    Task("personal", "Write a thank-you message to a friend who helped you move to a new apartment.", "boxes",
         ("thanks",)),
    Task("personal", "Write a birthday message for your younger brother who just turned twelve.", "birthday",
         ("happy",)),
    Task("personal", "Write a diary entry about a rainy Sunday spent at home.", "rain", ("bored",)),
    Task("personal", "Write a short social media post about finishing your first long-distance run.", "run",
         ("tired", "legs")),
    Task("personal", "Write an apology message to a friend for missing their dinner party.", "dinner", ("busy",)),
    Task("informational", "Give tips for keeping a houseplant healthy in a dark apartment.", "water", ("sun",)),
    Task("informational", f'Summarize this paragraph for a busy reader: "{_MARKET}"', "market", ("farmers",)),
    Task("informational", f'Summarize this paragraph in plain words: "{_OCTOPUS}"', "octopus", ("hearts",)),
    Task("informational", "Describe how to make a simple cup of tea.", "water", ("kettle",)),
    Task("informational", "Give tips for packing a small suitcase for a weekend trip.", "clothes", ("bag",)),
)


def instruction_kwargs(instruction_id: str, task: Task, rng: random.Random) -> dict[str, Any]:
    """The kwargs of ``instruction_id`` for ``task`` (drawn from ``rng`` where there is a choice)."""
    if instruction_id == "keywords:existence":
        return {"keywords": [task.keyword]}
    if instruction_id == "keywords:forbidden_words":
        return {"forbidden_words": list(task.avoid)}
    if instruction_id == "keywords:frequency":
        return {"keyword": task.keyword, "frequency": rng.choice([2, 3]), "relation": "at least"}
    if instruction_id == "length_constraints:number_words":
        return {"num_words": rng.choice(range(30, 81, 10)), "relation": "less than"}
    if instruction_id == "length_constraints:number_sentences":
        relation = rng.choice(["less than", "at least"])
        return {"num_sentences": rng.choice([4, 5, 6] if relation == "less than" else [3, 4, 5]), "relation": relation}
    if instruction_id == "startend:end_checker":
        return {"end_phrase": rng.choice(_END_PHRASES)}
    if instruction_id == "detectable_content:postscript":
        return {"postscript_marker": "P.S."}
    if instruction_id == "detectable_format:number_bullet_lists":
        return {"num_bullets": rng.choice([2, 3, 4, 5])}
    return {}


def _least_used(candidates: list[str], counts: Counter, rng: random.Random) -> str:
    """The candidate used least so far (ties broken by ``rng``)."""
    low = min(counts[c] for c in candidates)
    return rng.choice([c for c in candidates if counts[c] == low])


def _round_robin(tasks: tuple[Task, ...]) -> list[Task]:
    """Tasks interleaved by category, so consecutive prompts mix categories."""
    by_category: dict[str, list[Task]] = {}
    for task in tasks:
        by_category.setdefault(task.category, []).append(task)
    return [task for column in zip(*by_category.values(), strict=True) for task in column]


def build_rows(seed: int = SEED) -> list[dict[str, Any]]:
    """The prompt rows: each task with :data:`SLOTS_PER_TASK` different instructions, slot-major order."""
    rng = random.Random(seed)
    tasks = _round_robin(TASKS)
    counts: Counter = Counter()
    chosen: list[list[str]] = [[] for _ in tasks]
    for _ in range(SLOTS_PER_TASK):
        for i in range(len(tasks)):
            chosen[i].append(_least_used([c for c in INSTRUCTIONS if c not in chosen[i]], counts, rng))
            counts[chosen[i][-1]] += 1
    pairs = [(tasks[i], [chosen[i][slot]]) for slot in range(SLOTS_PER_TASK) for i in range(len(tasks))]
    seconds: Counter = Counter()
    for index in sorted(rng.sample(range(len(pairs)), round(SECOND_SHARE * len(pairs)))):
        first = pairs[index][1][0]
        candidates = [c for c in INSTRUCTIONS if c != first and frozenset((first, c)) not in _CONFLICTS]
        second = _least_used(candidates, seconds, rng)
        seconds[second] += 1
        pairs[index][1].append(second)
    rows = []
    for n, (task, ids) in enumerate(pairs, start=1):
        ids.sort(key=lambda i: i == _LAST)  # its sentence ends with an example list: nothing may follow it
        requirements = [make_requirement(i, instruction_kwargs(i, task, rng)) for i in ids]
        rows.append({"prompt_id": f"rl-{n:03d}", "category": task.category, "prompt": task.text,
                     "requirements": [r.to_dict() for r in requirements]})
    return rows


def build_text(seed: int = SEED) -> str:
    """The file's exact content (as :func:`wrl_lightning.utils.files.write_jsonl` writes the rows)."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in build_rows(seed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    rows = build_rows()
    path = write_jsonl(BUILTIN_DIR / FILE_NAME, rows)
    counts = Counter(r["checker"] for row in rows for r in row["requirements"])
    two = sum(len(row["requirements"]) == 2 for row in rows)
    print(f"{path}: {len(rows)} prompts ({two} with two instructions); "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
