"""Records exchanged between stages, their readers/writers and the embedded default data."""
