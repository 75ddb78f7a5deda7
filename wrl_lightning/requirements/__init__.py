"""Requirement taxonomy, verifiable checkers and their registry."""
