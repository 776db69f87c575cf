"""User-facing errors: one clear message, exit code 2, no traceback."""

from __future__ import annotations

import errno
import reprlib
import sys
from collections.abc import Callable, Sequence

EXIT_USER_ERROR = 2
MAX_LINE = 500  # characters of one printed message or problem line: a value of megabytes must not flood the screen
# Faults of the place a command writes to: the user can fix them (space, permissions), so no traceback.
WRITE_FAULTS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
                errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
                errno.EPERM: "permission denied", errno.ENOTDIR: "a part of the path is a file, not a folder"}


class UserError(Exception):
    """Bad input from the user (recipe, file, argument). The message is shown as-is, without a traceback."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        self.problems = list(problems)
        super().__init__(message)

    def render(self) -> str:
        """Return the message followed by one indented line per problem."""
        lines = [f"error: {capped(str(self))}"] + [f"  - {capped(p)}" for p in self.problems]
        return "\n".join(lines)


def capped(line: str, limit: int = MAX_LINE) -> str:
    """`line`, cut at `limit` characters with a note of how much was left out."""
    return line if len(line) <= limit else f"{line[:limit]}... ({len(line) - limit:,} more characters)"


_BRIEF = reprlib.Repr()
_BRIEF.maxlevel, _BRIEF.maxstring, _BRIEF.maxother = 3, 60, 60


def brief(value: object) -> str:
    """A value as a problem line shows it: its repr when short, else its type and size (never megabytes).

    >>> brief("x" * 10_000_000)
    'a str of 10,000,000 characters'
    """
    if isinstance(value, (str, bytes)) and len(value) > 60:
        return f"a {type(value).__name__} of {len(value):,} characters"
    if isinstance(value, (list, tuple, dict, set)) and len(value) > 8:
        return f"a {type(value).__name__} of {len(value):,} items"
    return _BRIEF.repr(value)


def cli_entry(main: Callable[[Sequence[str] | None], int | None]) -> Callable[[Sequence[str] | None], int]:
    """Wrap a CLI ``main(argv)`` so a :class:`UserError` prints its message and returns exit code 2.

    >>> def main(argv=None):
    ...     raise UserError("no such file: x.yaml")
    >>> cli_entry(main)([])  # prints "error: no such file: x.yaml" to stderr
    2
    """

    def wrapped(argv: Sequence[str] | None = None) -> int:
        try:
            return int(main(argv) or 0)
        except UserError as exc:
            print(exc.render(), file=sys.stderr)
            return EXIT_USER_ERROR
        except OSError as exc:
            if exc.errno not in WRITE_FAULTS:
                raise
            where = exc.filename or "a file"
            print(f"error: cannot write {where}: {WRITE_FAULTS[exc.errno]} ({exc.strerror}). Free space or fix the "
                  "permissions, then run the same command again (an interrupted run resumes with --resume)",
                  file=sys.stderr)
            return EXIT_USER_ERROR
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130

    wrapped.__doc__ = main.__doc__
    return wrapped
