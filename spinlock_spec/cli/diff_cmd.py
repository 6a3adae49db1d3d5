"""``spinlock-spec diff A B``: compare two specs as resolved values and compiled graphs.
Exit 0 same, 1 different, 2 error."""
from __future__ import annotations

import json
import sys

import click

from spinlock_spec.cli.output import error_payload, format_option


@click.command("diff")
@click.argument("a", type=click.Path(path_type=str))
@click.argument("b", type=click.Path(path_type=str))
@format_option()
def diff_cmd(a, b, fmt):
    """Show what differs between spec A and spec B, each change classed architecture /
    training / cosmetic.  A and B are spec files, zoo:NAME references or run folders (their
    config.yaml).  Exit 0 when they are the same, 1 when they differ."""
    from spinlock_spec.errors import UserError

    try:
        from spinlock_spec.compile.diff import diff_specs, diff_text
        from spinlock_spec.compile.compiled import spec_source
        from spinlock_spec.zoo import resolve_spec_ref

        def source(text: str):
            """A run folder is the spec it was trained with (its config.yaml); a zoo entry's
            spec is pulled when needed; anything else is a path."""
            from pathlib import Path

            from spinlock_spec.runs.names import CONFIG_FILE

            if Path(text).is_dir() and (Path(text) / CONFIG_FILE).is_file():
                return Path(text) / CONFIG_FILE
            return spec_source(text, resolve_spec_ref)

        result = diff_specs(source(a), source(b), resolve_ref=resolve_spec_ref)
    except UserError as exc:
        if fmt == "json":
            click.echo(json.dumps(error_payload(exc), indent=2))
        else:
            click.echo(exc.format(), err=True)
        sys.exit(2)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        click.echo(diff_text(result), nl=False)
    sys.exit(0 if result.same else 1)
