"""``spinlock-spec compile SPEC``: validate, resolve and compile a spec; print a summary,
the graph (json/dot/mermaid) and the diagnostics.  Exit 0, 1 on a rule error, 2 on invalid input."""
from __future__ import annotations

import json
import sys

import click

from spinlock_spec.cli.output import error_payload, format_option


def _emit_error(exc, fmt: str) -> None:
    if fmt == "json":
        payload = error_payload(exc)
        payload["diagnostics"] = payload["diagnostics"] or [{
            "code": exc.code, "severity": "error", "message": exc.message, "file": exc.location,
            "line": None, "col": None, "pointer": None, "hint": exc.hint, "chain": []}]
        click.echo(json.dumps(payload, indent=2))
    else:
        click.echo(exc.format(), err=True)
    n = sum(d.severity == "error" for d in exc.diagnostics) or 1
    if fmt != "json":
        click.echo(f"{n} error(s); the spec was not compiled", err=True)


def bare_overrides(args) -> tuple[str, ...]:
    """KEY=VALUE arguments given after the spec (as Hydra users type them) are ``--set``
    overrides; anything else is refused with a hint."""
    for arg in args:
        key = arg.partition("=")[0]
        if "=" not in arg or not key or " " in key:
            raise click.UsageError(f"unexpected argument {arg!r}: after SPEC only KEY=VALUE overrides are "
                                   "accepted (e.g. training.batch_size=64, the same as --set "
                                   "training.batch_size=64)")
    return tuple(args)


@click.command("compile")
@click.argument("spec", type=click.Path(dir_okay=True, path_type=str))
@click.argument("assignments", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a value, e.g. --set training.batch_size=64 (value parsed as YAML). Repeatable. "
                   "Bare KEY=VALUE arguments after SPEC are the same (applied after the --set ones).")
@click.option("--data", "data", type=click.Path(path_type=str), default=None,
              help="Dataset file (HDF5/NPZ) whose header gives the family shapes (not loaded).")
@format_option("dot", "mermaid", help="Output: summary text, or the graph as JSON / Graphviz DOT / Mermaid "
              "(with --print: the resolved spec as YAML for text, as JSON for json).")
@click.option("--lock", "lock", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write the resolved spec with its sha256 to this file (atomically; - prints it).")
@click.option("--print", "print_spec", is_flag=True,
              help="Print the resolved spec (every default filled): YAML, or JSON with --format json. "
                   "It compiles again to the same spec hash.")
@click.option("--origins", is_flag=True,
              help="Show where each value comes from (file:line:col, --set, default); with --print as "
                   "YAML comments.")
def compile_cmd(spec, assignments, overrides, data, fmt, lock, print_spec, origins):
    """Check SPEC and compile it to a graph; show families, assignment mode, model and trainer.

    Overrides can follow SPEC as KEY=VALUE (Hydra style) or be given with --set."""
    from spinlock_spec.errors import UserError

    overrides = tuple(overrides) + bare_overrides(assignments)
    if (print_spec or origins) and fmt in ("dot", "mermaid"):
        raise click.UsageError("--print and --origins print text (YAML) or json, not " + fmt)
    try:
        from spinlock_spec.compile import compile_file
        from spinlock_spec.zoo import resolve_spec_ref

        compiled = compile_file(spec, overrides=overrides, data=data, resolve_ref=resolve_spec_ref)
        if lock == "-":
            from spinlock_spec.compile.lock import lock_text

            click.echo(lock_text(compiled), nl=False)
            sys.exit(1 if compiled.errors else 0)
        if lock:
            from spinlock_spec.compile.lock import write_lock

            write_lock(compiled, lock)
    except UserError as exc:
        _emit_error(exc, fmt)
        sys.exit(2)
    if print_spec or origins:
        from spinlock_spec.compile import printing

        if fmt == "json":
            click.echo(printing.resolved_json(compiled, with_origins=origins), nl=False)
        elif print_spec:
            click.echo(printing.resolved_yaml(compiled, with_origins=origins), nl=False)
        else:
            click.echo(printing.origins_text(compiled), nl=False)
        if compiled.diagnostics:
            click.echo("\n".join(d.format() for d in compiled.diagnostics), err=True)
        sys.exit(1 if compiled.errors else 0)
    if fmt == "text":
        from spinlock_spec.compile.summary import summary_text

        click.echo(summary_text(compiled, name=spec), nl=False)
        if lock:
            click.echo(f"lock written: {lock} (sha256:{compiled.hash})")
    else:
        from spinlock_spec.compile import export

        click.echo({"json": export.to_json, "dot": export.to_dot, "mermaid": export.to_mermaid}[fmt](compiled),
                   nl=False)
        if fmt != "json" and compiled.diagnostics:
            click.echo("\n".join(d.format() for d in compiled.diagnostics), err=True)
    sys.exit(1 if compiled.errors else 0)
