"""Reading keys and secrets for the CLI: from a file, from stdin ('-'), or a hidden prompt."""

import getpass
import sys
from pathlib import Path

from hub.errors import InvalidValueError


class SecretReader:
    """Reads each secret once; at most one of them may come from stdin."""

    def __init__(self) -> None:
        self._stdin_used_by: str | None = None

    def required(self, source: str | None, field: str) -> str:
        """The secret from `source` (a path, or '-' for stdin); prompts on a terminal if absent.

        Raises:
            InvalidValueError: the file is unreadable or empty, or no source and no terminal.
        """
        if source is not None:
            return self._read(source, field)
        if sys.stdin.isatty():
            return self._non_empty(getpass.getpass(f"{field}: "), field)
        raise InvalidValueError(field, f"is required (give --{field.replace('_', '-')}-file)")

    def optional(self, source: str | None, field: str) -> str | None:
        """The secret from `source`, or None when none is given. Raises as `required`."""
        return None if source is None else self._read(source, field)

    def _read(self, source: str, field: str) -> str:
        if source == "-":
            if self._stdin_used_by is not None:
                raise InvalidValueError(field, f"stdin already provides {self._stdin_used_by}")
            self._stdin_used_by = field
            return self._non_empty(sys.stdin.read(), field)
        try:
            return self._non_empty(Path(source).read_text(), field)
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidValueError(field, f"cannot read {source}: {exc}") from None

    @staticmethod
    def _non_empty(value: str, field: str) -> str:
        value = value.strip()
        if not value:
            raise InvalidValueError(field, "is empty")
        return value
