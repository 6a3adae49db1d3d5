"""One output convention for every command that prints results.

``--format text`` (the default) prints for people; ``--format json`` prints one JSON
document (or, for ``train``, one JSON object per event and line) on stdout, and
errors as JSON on stdout too, so that a script reads stdout only.  Human lines
(progress, notes) always go to stderr.  Some commands accept more formats beside
these two (``compile``: ``dot``, ``mermaid``).

The error document, the same for every command::

    {"ok": false, "exit_code": 2,
     "error": {"code": "E100", "message": "...", "location": "spec.yaml:3:5", "hint": "..."},
     "diagnostics": [{"code": ..., "severity": "error", "file": ..., "line": ..., ...}]}
"""
from __future__ import annotations

import json

import click

# Set by the --format option's callback; read by cli.main when an error reaches it.
_STATE = {"json": False}

EXIT_CODES = ("Exit codes: 0 success; 2 invalid input (spec, data, run folder, option), "
              "with one located message; 3 a bug of spinlock-spec; 130 interrupted.")


def json_mode() -> bool:
    """Whether the running command was asked for JSON output."""
    return _STATE["json"]


def json_requested(args) -> bool:
    """Whether the command line asks for JSON (read from the raw arguments, for usage
    errors found before the options are processed)."""
    args = list(args)
    for i, arg in enumerate(args):
        if arg in ("--format=json", "--log-format=json"):
            return True
        if arg in ("--format", "--log-format") and i + 1 < len(args) and args[i + 1] == "json":
            return True
    return False


def set_json_mode(on: bool) -> None:
    _STATE["json"] = bool(on)


def _remember(ctx, param, value):
    set_json_mode(value == "json")
    return value


def format_option(*extra: str, default: str = "text", aliases: tuple[str, ...] = (),
                  help: str | None = None):
    """The ``--format text|json`` option (plus ``extra`` choices) of a command."""
    choices = ["text", "json", *extra]
    text = help or "text: for people; json: one JSON document on stdout (errors too)."
    return click.option("--format", *aliases, "fmt", type=click.Choice(choices), default=default,
                        show_default=True, callback=_remember, is_eager=True, help=text)


def error_payload(exc, exit_code: int = 2) -> dict:
    """The JSON error document of a UserError or a click usage error."""
    diagnostics = getattr(exc, "diagnostics", None) or []
    message = getattr(exc, "message", None) or str(exc)
    if isinstance(exc, click.ClickException):
        message = exc.format_message()
    return {
        "ok": False, "event": "error", "exit_code": exit_code,
        "error": {"code": getattr(exc, "code", "usage"), "message": message,
                  "location": getattr(exc, "location", None), "hint": getattr(exc, "hint", None)},
        "diagnostics": [d.to_dict() for d in diagnostics],
    }


def echo_json(obj, *, indent: int | None = 2) -> None:
    """Print ``obj`` as JSON on stdout (numpy scalars and paths made plain)."""
    click.echo(json.dumps(obj, indent=indent, default=_plain, allow_nan=False))


def _plain(value):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)

