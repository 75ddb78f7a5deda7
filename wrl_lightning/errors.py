"""User-facing errors: printed as one clear line by the CLI, with a non-zero exit code."""

from __future__ import annotations


class WrlError(Exception):
    """Base class for errors caused by the user's input or configuration (not by a bug)."""

    exit_code = 2


class ConfigError(WrlError):
    """A configuration value is missing or invalid; names the dotted key."""

    def __init__(self, key: str, problem: str):
        self.key, self.problem = key, problem
        super().__init__(f"config error: {key}: {problem}")


class RecordError(WrlError):
    """A record in an input file is malformed; names `file:line: field: problem`."""

    def __init__(self, source: str, line: int | None, field: str, problem: str):
        self.source, self.line, self.field, self.problem = source, line, field, problem
        where = f"{source}:{line}" if line is not None else str(source)
        super().__init__(f"{where}: {field}: {problem}")
