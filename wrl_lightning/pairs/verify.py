"""Label verification: where a requirement has a rule checker, does its verdict agree with the label?"""

from __future__ import annotations

from wrl_lightning.data.records import Pair
from wrl_lightning.requirements.checkers import check_requirement, is_verifiable


def verify_pairs(pairs: list[Pair]) -> None:
    """Set ``pair.verified`` (checker verdict == label) on verifiable pairs; others keep ``None``."""
    for pair in pairs:
        if is_verifiable(pair.requirement):
            pair.verified = check_requirement(pair.requirement, pair.response, prompt=pair.prompt) == bool(pair.label)


def drop_noisy(pairs: list[Pair]) -> list[Pair]:
    """The pairs whose label the checker did not contradict."""
    return [pair for pair in pairs if pair.verified is not False]
