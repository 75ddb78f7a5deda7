"""Text material of the ``edit`` generator: sentence banks per task category, list items, section names,
sentences in a few other languages, and the topic phrase of a prompt.

Templates use ``{topic}`` / ``{Topic}``. ``SHORT`` sentences have at most 9 words (for tight per-sentence
limits); the category banks are longer prose. No template contains digits, quotation marks or asterisks,
so the decorations the generator adds are the only ones in a response.
"""

from __future__ import annotations

import re

#: Prose sentences per task category (taxonomy names).
SENTENCES: dict[str, list[str]] = {
    "creative": [
        "The morning began quietly, and nobody expected {topic} to change the day.",
        "Mara had heard stories about {topic}, but she had never seen it with her own eyes.",
        "A cold wind moved through the valley as the first lights went out one by one.",
        "She kept walking, counting her steps to stay calm while the path grew narrow.",
        "By the time the bells rang, the whole village was talking about {topic}.",
        "The old keeper smiled as if he had been waiting for this moment for years.",
        "Every shadow seemed to lean closer, curious about what would happen next.",
        "When the rain finally stopped, the streets smelled of wet stone and bread.",
        "Nobody could explain how {topic} had found its way into their lives.",
        "In the end, the answer had been hiding in plain sight all along.",
        "The children laughed, and for a moment the fear simply fell away.",
        "Far away, a lantern flickered on the hill through the whole night.",
    ],
    "functional": [
        "This note summarises where things stand with {topic} and what comes next.",
        "The team reviewed the current plan and agreed on a few practical changes.",
        "Please let the project lead know if the proposed timeline creates any conflicts.",
        "We expect the first results to be ready for review by the end of the month.",
        "Clear ownership of each task will keep {topic} on schedule and within budget.",
        "The main risks are known, and each one has a simple mitigation in place.",
        "Feedback from customers has been positive, especially about response times.",
        "A short follow-up meeting will confirm the remaining decisions.",
        "All supporting documents are stored in the shared folder for easy access.",
        "Thank you for your patience while the details of {topic} were finalised.",
        "Any questions about the budget can be directed to the finance contact.",
        "The next update will cover progress, open issues and revised estimates.",
    ],
    "academic": [
        "Research on {topic} has grown steadily over the past few decades.",
        "Scholars generally agree that the topic cannot be reduced to a single cause.",
        "Early studies focused on description, while later work tested explanations.",
        "A careful reading of the evidence suggests a more nuanced picture.",
        "The concept of {topic} is best understood through its historical context.",
        "Critics argue that several influential studies relied on small samples.",
        "Comparative approaches reveal patterns that single case studies often miss.",
        "These findings have clear implications for policy as well as theory.",
        "Further work is needed to separate correlation from causation.",
        "Taken together, the literature on {topic} points toward a shared framework.",
        "Methodological debates continue, but the core questions remain stable.",
        "This essay argues that the strongest explanations combine several perspectives.",
    ],
    "persuasive": [
        "It is time to take {topic} seriously, and the reasons are hard to ignore.",
        "Every day without action makes the problem more expensive to solve.",
        "The benefits are practical, measurable and shared by the whole community.",
        "Opponents claim the cost is too high, yet doing nothing costs even more.",
        "Imagine a neighbourhood where {topic} is simply part of everyday life.",
        "Small changes, repeated by many people, add up to a real difference.",
        "The evidence is clear, and the people affected deserve a better answer.",
        "Support for {topic} is growing because it delivers results.",
        "Leaders who act now will be remembered for their courage.",
        "The choice is simple: invest in the future or pay for the past.",
        "Join the effort today, because tomorrow will bring new reasons to wait.",
        "A fair plan protects those with the least room to absorb the impact.",
    ],
    "personal": [
        "I have been thinking about {topic} a lot lately and wanted to share a few thoughts.",
        "It means a great deal to me that you were there when things got difficult.",
        "Life has been busy, but the good moments have made it worthwhile.",
        "I still remember how we laughed until we could hardly breathe.",
        "Thank you for your kindness, your patience and your honest advice.",
        "Whenever {topic} comes up, I think of you and smile.",
        "Let us plan a proper visit soon, with a long walk and a good meal.",
        "I hope this message finds you rested and in good spirits.",
        "Some days are harder than others, and that is perfectly fine.",
        "You have always known how to make an ordinary day feel special.",
        "Please say hello to everyone at home for me.",
        "Writing this reminded me how lucky I am to know you.",
    ],
    "informational": [
        "{Topic} is simpler to understand once the basic ideas are laid out in order.",
        "The first thing to know is what problem it solves and for whom.",
        "Most beginners learn fastest by trying a small example before reading theory.",
        "A common mistake is to skip the preparation and rush into the details.",
        "Experts recommend checking the results at every stage rather than at the end.",
        "The history of {topic} explains many of the conventions still in use today.",
        "Good tools help, but steady practice matters more than any single tool.",
        "Safety and accuracy should always come before speed.",
        "Many people find that a written checklist prevents small errors.",
        "Over time, the process becomes familiar and much less demanding.",
        "Reliable sources on {topic} agree on the essentials even when details differ.",
        "With these points in mind, anyone can approach the subject with confidence.",
    ],
}

#: Short sentences (at most 9 words).
SHORT: list[str] = [
    "{Topic} matters more than it seems.",
    "The details make the difference.",
    "Start small and stay consistent.",
    "Each step builds on the last.",
    "Clarity beats cleverness every time.",
    "Patience pays off in the end.",
    "Good habits grow from simple routines.",
    "The results speak for themselves.",
    "Nothing here requires special talent.",
    "Keep the goal in view.",
    "Small wins add up quickly.",
    "The rest follows naturally.",
]

#: List items (bullets, numbered steps, table rows).
ITEMS: list[str] = [
    "Set a clear goal before starting",
    "Gather the materials in advance",
    "Ask for feedback early",
    "Keep notes on what works",
    "Review progress every week",
    "Celebrate small improvements",
    "Share the results with others",
    "Adjust the plan when needed",
    "Protect time for focused work",
    "Finish with a short reflection",
    "Compare options side by side",
    "Write down open questions",
]

#: Section names (headings and labelled sections).
SECTION_NAMES: list[str] = [
    "Background", "Key Points", "Details", "Examples", "Challenges", "Next Steps",
    "Practical Advice", "Outlook", "Summary", "Closing Thoughts",
]

#: Sentences with one quotation each (the quoted text has at least two words).
QUOTES: list[str] = [
    "As the old saying goes, \"well begun is half done.\"",
    "One reader put it simply: \"this changed how I work.\"",
    "A teacher once said, \"practice makes progress, not perfection.\"",
    "The motto on the wall reads \"measure twice and cut once.\"",
    "A neighbour summed it up as \"a small thing done well.\"",
    "The report closes with the line \"nothing worth doing is quick.\"",
    "A retired judge once remarked, \"fairness is a habit, not a speech.\"",
    "In the words of one historian, \"every change begins as a rumour.\"",
    "The mayor told the crowd, \"we built this together and we will fix it together.\"",
    "An old sailor liked to say, \"calm seas never made a skilled crew.\"",
    "One scientist put it bluntly: \"the data do not care what we hope.\"",
    "A local organiser said, \"people show up when they are asked.\"",
]

#: Prose sentences in other languages (topic-free, so language detection sees one language).
FOREIGN: dict[str, list[str]] = {
    "fr": [
        "Ce sujet mérite une attention particulière de la part de tous.",
        "Les premières étapes sont souvent les plus difficiles à franchir.",
        "Avec un peu de patience, les résultats deviennent vite visibles.",
        "Il faut toujours vérifier les détails avant de prendre une décision.",
        "Beaucoup de gens découvrent que la pratique régulière change tout.",
        "Nous avons appris que la clarté vaut mieux que la vitesse.",
    ],
    "es": [
        "Este tema merece una atención especial por parte de todos.",
        "Los primeros pasos suelen ser los más difíciles de dar.",
        "Con un poco de paciencia, los resultados se ven pronto.",
        "Siempre conviene revisar los detalles antes de decidir.",
        "Muchas personas descubren que la práctica constante lo cambia todo.",
        "Hemos aprendido que la claridad vale más que la prisa.",
    ],
    "de": [
        "Dieses Thema verdient die besondere Aufmerksamkeit aller Beteiligten.",
        "Die ersten Schritte sind oft die schwierigsten auf dem ganzen Weg.",
        "Mit etwas Geduld werden die Ergebnisse schnell sichtbar.",
        "Man sollte die Einzelheiten immer prüfen, bevor man entscheidet.",
        "Viele Menschen merken, dass regelmäßige Übung alles verändert.",
        "Wir haben gelernt, dass Klarheit wichtiger ist als Geschwindigkeit.",
    ],
    "it": [
        "Questo argomento merita un'attenzione particolare da parte di tutti.",
        "I primi passi sono spesso i più difficili da compiere.",
        "Con un po' di pazienza, i risultati diventano presto visibili.",
        "Conviene sempre controllare i dettagli prima di decidere.",
        "Molte persone scoprono che la pratica costante cambia tutto.",
        "Abbiamo imparato che la chiarezza vale più della fretta.",
    ],
    "pt": [
        "Este assunto merece uma atenção especial de todos nós.",
        "Os primeiros passos costumam ser os mais difíceis de dar.",
        "Com um pouco de paciência, os resultados aparecem depressa.",
        "Convém sempre verificar os detalhes antes de tomar uma decisão.",
        "Muitas pessoas descobrem que a prática constante muda tudo.",
        "Aprendemos que a clareza vale mais do que a pressa.",
    ],
}

_TOPIC = re.compile(
    r"\b(?:about|on|describing|explaining|introducing|celebrating|announcing|promoting|summari[sz]ing|reviewing|for)\s+"
    r"(?P<topic>[^.,;:!?\n]+)",
    re.IGNORECASE,
)
_TOPIC_STOP = re.compile(r"\s+\b(?:who|that|which|while|because|so|with|to|for|using|without|where|when)\b.*$", re.IGNORECASE)
_GENRE = re.compile(r"^(?:(?:a|an|the)\s+)?(?:[\w'-]+\s+){0,2}?(?:of|on)\s+(?=\S)", re.IGNORECASE)
_DANGLING = {"a", "an", "the", "of", "on", "in", "and", "for", "to", "at", "by", "its", "their"}
_FALLBACK = re.compile(r"^(?:please\s+)?(?:write|draft|compose|create|give|tell|describe|explain|share)\s+(?:me\s+)?(?P<topic>[^.,;:!?\n]+)", re.IGNORECASE)


def topic_of(prompt: str, max_words: int = 8) -> str:
    """A short noun phrase naming what ``prompt``'s first sentence is about (``the topic`` if nothing fits)."""
    first = re.split(r"(?<=[.!?])\s|\n", prompt.strip(), maxsplit=1)[0]
    match = _TOPIC.search(first) or _FALLBACK.search(first)
    if not match:
        return "the topic"
    phrase = _TOPIC_STOP.sub("", match.group("topic")).strip().strip("\"'“”")
    if match.re is _FALLBACK:
        phrase = _GENRE.sub("", phrase)
    words = re.sub(r"[^\w\s'’-]", "", phrase).split()[:max_words]
    while words and words[-1].lower() in _DANGLING:
        words.pop()
    return " ".join(words) if words else "the topic"
