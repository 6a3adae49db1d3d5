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
    training / cosmetic."""
    from spinlock_spec.errors import UserError

    try:
        from spinlock_spec.compile.diff import diff_specs, diff_text
        from spinlock_spec.compile.compiled import spec_source
        from spinlock_spec.zoo import resolve_spec_ref

        # a zoo entry's spec is pulled when needed; anything else is a path
        result = diff_specs(spec_source(a, resolve_spec_ref), spec_source(b, resolve_spec_ref),
                            resolve_ref=resolve_spec_ref)
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
