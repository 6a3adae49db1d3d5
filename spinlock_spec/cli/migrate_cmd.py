"""``spinlock-spec migrate OLD.yaml [-o NEW.yaml]``: the canonical form of an accepted spec."""
from __future__ import annotations

import sys

import click


@click.command("migrate")
@click.argument("spec", type=click.Path(dir_okay=False, path_type=str))
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write the migrated spec here (atomically; may be SPEC itself). Default: print it.")
def migrate_cmd(spec, out):
    """Rewrite SPEC in today's layout: original-format keys moved or renamed, no-effect keys
    dropped, saved-run Python tags decoded, nulls and older layouts replaced; comments kept where
    they can be. Each change is printed with its line; the migrated spec compiles to the same
    hash as SPEC (checked)."""
    from pathlib import Path

    from spinlock_spec.config.migrate import migrate_file
    from spinlock_spec.errors import SpecError

    migration = migrate_file(spec, out)
    report = migration.change_lines()
    target = Path(out) if out is not None else Path(spec)
    tmp = target.with_name(f".{target.name}.migrate.tmp")
    try:
        tmp.write_text(migration.text, encoding="utf-8")
        before, after = _hash(spec), _hash(tmp)
        if before != after:
            raise RuntimeError(f"migrated spec resolves differently (sha256 {after[:12]} != {before[:12]})")
        if out is not None:
            tmp.replace(target)
    except OSError as exc:
        raise SpecError(f"cannot write {target}: {exc.strerror or exc}", code="E109") from None
    finally:
        tmp.unlink(missing_ok=True)
    stream = sys.stdout if out is not None else sys.stderr
    for line in report:
        click.echo(line, file=stream)
    if out is None:
        click.echo(migration.text, nl=False)
    where = out if out is not None else "the migrated spec"
    click.echo(f"{len(report)} change(s); {where} compiles to sha256:{before[:16]}, as {spec} does", file=stream)


def _hash(path) -> str:
    from spinlock_spec.compile import compile_spec

    return compile_spec(str(path)).hash
