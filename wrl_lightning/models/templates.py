"""Prompt templates, keyed by name, shared by the reward model (training and scoring) and LLM judges.

Templates are ``str.format`` strings. RM templates take ``{response}`` and ``{requirement}``; the response
must come first (truncation then cuts the response, and a causal RM can share its prefix across requirements).
"""

from __future__ import annotations

from wrl_lightning.errors import ConfigError

#: Reward-model input templates (``{response}``, ``{requirement}``).
RM_TEMPLATES: dict[str, str] = {
    # The paper's classifier RM input, verbatim (double spaces included).
    "paper": (
        "You need to determine whether the response adheres to this constraint. Only output  1 if it does, "
        "otherwise only output  0.  Response: {response}. Constraint: {requirement}"
    ),
    # A plain pairing for encoders trained from scratch.
    "plain": "Response: {response}\nRequirement: {requirement}",
}

#: Binary LLM-judge templates (``{response}``, ``{requirement}``, ``{prompt}``): answer [[1]] or [[0]].
JUDGE_BINARY_TEMPLATES: dict[str, str] = {
    "en": (
        "Decide whether the given response follows the requirement (for example a length, style or format "
        "requirement).\n[Response]\n{response}\n[Requirement]\n{requirement}\n"
        "Does the response follow the requirement? Start your answer with the verdict in the form [[score]]: "
        "output [[1]] if it does, otherwise [[0]]."
    ),
    # The paper's judge prompt (Chinese), for faithful reproduction.
    "paper_zh": (
        "请判断给定的回复是否遵循约束，比如长度、风格、格式等约束。\n[回复]\n{response}\n[约束]\n{requirement}\n"
        "请判断给定的回复是否遵循约束，比如长度、风格、格式等约束，请在回答的最开始用[[score]]格式输出你的分数。"
        "如果遵循约束，请输出[[1]]，否则输出[[0]]"
    ),
}

#: Critic templates (``{response}``, ``{requirement}``, ``{prompt}``): JSON with an integer "score" 1-10.
CRITIC_TEMPLATES: dict[str, str] = {
    "writingbench": (
        "Evaluate the Response based on the Criteria provided following the Scoring Rules.\n\n"
        "** Scoring Rules **\n"
        "1-2: critical deficiencies that prevent adequate functionality.\n"
        "3-4: below average, noticeable shortcomings.\n"
        "5-6: adequate but not exemplary; meets essential requirements.\n"
        "7-8: strong, competent execution needing minor refinements.\n"
        "9-10: exceptional, all aspects optimally addressed.\n"
        "Be strict; do not be misled by format or length. Assign an integer score from 1 to 10.\n\n"
        "** Criteria **\n```{requirement}```\n\n** Response **\n```{response}```\n\n"
        "Return only this JSON: {{\"score\": <integer 1-10>, \"reason\": \"<justification>\"}}"
    ),
}


def get_template(registry: dict[str, str], name_or_text: str, key: str) -> str:
    """A template by registry name, or ``name_or_text`` itself when it already holds ``{response}``."""
    if name_or_text in registry:
        return registry[name_or_text]
    if "{response}" in name_or_text:
        return name_or_text
    raise ConfigError(key, f"unknown template {name_or_text!r} (known: {', '.join(registry)}; or give a format string with {{response}})")
