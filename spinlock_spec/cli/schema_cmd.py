"""``spinlock-spec schema``: print the JSON Schema of specs (for editors and CI checks)."""
from __future__ import annotations

import click


@click.command("schema")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write the schema to this file instead of printing it.")
def schema_cmd(out):
    """Print the JSON Schema (Draft 2020-12) that specs are validated against.

    Editors complete and check specs that start with
    `# yaml-language-server: $schema=<path or URL of this schema>`.
    """
    from spinlock_spec.config.schema import schema_path

    text = schema_path().read_text(encoding="utf-8")
    if out:
        from spinlock_spec.compile.lock import atomic_write

        atomic_write(out, text)
        click.echo(f"schema written to {out}")
    else:
        click.echo(text, nl=False)
