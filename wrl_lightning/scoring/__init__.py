"""Scorers: turn WEval groups into per-response (and per-requirement) scores."""
