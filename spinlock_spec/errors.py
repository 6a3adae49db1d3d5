"""The project's exception types.

Every error a user can cause (bad spec, bad data file, bad checkpoint, failed
download) is raised as a subclass of :class:`UserError`.  The CLI turns it into
one message on stderr and exit code 2; a Python traceback reaching a user is a bug.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Diagnostic:
    """One located problem: ``file:line:col: severity[CODE]: message``."""

    code: str
    message: str
    severity: str = "error"          # error | warning | info
    file: str | None = None
    line: int | None = None          # 1-based
    col: int | None = None           # 1-based
    pointer: str | None = None       # JSON pointer into the resolved spec
    hint: str | None = None
    chain: list[str] = field(default_factory=list)   # extends chain, outermost first

    def location(self) -> str:
        if self.file is None:
            return "<spec>"
        loc = self.file
        if self.line is not None:
            loc += f":{self.line}"
            if self.col is not None:
                loc += f":{self.col}"
        return loc

    def format(self) -> str:
        text = f"{self.location()}: {self.severity}[{self.code}]: {self.message}"
        if self.pointer is not None:
            text += f"\n  at {self.pointer or '/'}"
        if self.chain:
            text += "\n  via " + " -> ".join(self.chain)
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_dict(self) -> dict:
        return {
            "code": self.code, "severity": self.severity, "message": self.message,
            "file": self.file, "line": self.line, "col": self.col,
            "pointer": self.pointer, "hint": self.hint, "chain": list(self.chain),
        }


class UserError(Exception):
    """An error the user can fix.  ``diagnostics`` holds every problem found."""

    exit_code = 2

    def __init__(self, message: str, *, code: str = "E000", location: str | None = None,
                 hint: str | None = None, diagnostics: list[Diagnostic] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.location = location
        self.hint = hint
        self.diagnostics = diagnostics or []

    def format(self) -> str:
        if self.diagnostics:
            return "\n".join(d.format() for d in self.diagnostics)
        loc = f"{self.location}: " if self.location else ""
        text = f"{loc}error[{self.code}]: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class SpecError(UserError):
    """The spec cannot be loaded, validated or resolved."""


class DataError(UserError):
    """A dataset file is missing, corrupt or does not fit the spec."""


class CheckpointError(UserError):
    """A checkpoint or run folder is missing, corrupt or from another spec."""


class ZooError(UserError):
    """A zoo entry cannot be found, downloaded or verified."""


class OutputError(UserError, OSError):
    """A file or folder cannot be written: disk full, file size limit, read-only file system,
    permission denied, a parent that is a file.  It is an ``OSError`` too, so code that
    handles a failed write keeps handling it."""


_WRITE_REASONS = {
    "ENOSPC": "no space left on the device",
    "EDQUOT": "the disk quota is exceeded",
    "EFBIG": "the file is too large for the file size limit (ulimit -f) or the file system",
    "EROFS": "the file system is read-only",
    "EACCES": "permission denied",
    "EPERM": "operation not permitted",
    "ENOTDIR": "a part of the path is a file, not a folder",
    "ENOENT": "nothing can be created at that path",
    "EISDIR": "it is a folder",
    "ENAMETOOLONG": "the name is too long",
}
WRITE_ERRNOS = frozenset(_WRITE_REASONS)


def write_reason(exc: OSError) -> str:
    import errno as _errno

    name = _errno.errorcode.get(exc.errno or 0, "")
    return _WRITE_REASONS.get(name) or (exc.strerror or str(exc))


def output_error(path, exc: OSError) -> OutputError:
    """The one message for a failed write of ``path`` (error E020)."""
    if isinstance(exc, OutputError):
        return exc
    err = OutputError(f"cannot write {path}: {write_reason(exc)}", code="E020",
                      hint="free some space or write somewhere else (another --out)")
    err.errno, err.strerror, err.filename = exc.errno, exc.strerror, str(path)
    return err
