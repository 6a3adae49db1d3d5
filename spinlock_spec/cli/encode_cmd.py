"""``spinlock-spec encode RUN --data FILE --out tokens.npz``: token ids for every row."""
from __future__ import annotations

import click

from spinlock_spec.cli.output import echo_json, format_option
from spinlock_spec.cli.progress import Progress


@click.command("encode")
@click.argument("run", required=False, type=str)
@click.option("--model", "model", type=str, default=None, help="A run folder or zoo:NAME (instead of RUN).")
@click.option("--data", "data", required=True, type=str, help="Dataset file (HDF5 spinlock layout or NPZ).")
@click.option("--out", "out", type=str, default="tokens.npz", show_default=True, help="Output NPZ file.")
@click.option("--which", type=click.Choice(["best", "final"]), default="best", show_default=True,
              help="Which weights of the run.")
@click.option("--reconstructions", is_flag=True,
              help="Also store the reconstruction of each family (reconstruction/F, model scale) "
                   "and, for tabular families, every input column in the user's units (decoded/F).")
@format_option()
def encode_cmd(run, model, data, out, which, reconstructions, fmt):
    """Write the token ids [N, categories, levels] of every row of --data to an NPZ file.

    The run's own normalization statistics and categories are applied."""
    from spinlock_spec import api

    source = run or model
    if source is None:
        raise click.UsageError("give a RUN folder or --model RUN|zoo:NAME")
    with Progress("encode") as progress:
        progress.stage(f"loading {source}")
        loaded = api.load_run(source, which=which)
        check_output(out, data, loaded.path)
        progress.stage(f"reading, normalizing and encoding {data}")
        result = api.encode(loaded, data, reconstructions=reconstructions)
        progress.stage(f"writing {out}")
        _write(result, loaded, out)
    tokens = result["tokens"]
    if fmt == "json":
        echo_json({"out": out, "tokens_shape": list(tokens.shape), "run": str(loaded.path),
                   "codebook_sizes": result["codebook_sizes"].tolist()})
        return
    click.echo(f"Wrote {out}: tokens {tuple(tokens.shape)} (rows, categories, levels) from {loaded.path}")


def _write(result: dict, loaded, out: str) -> None:
    import numpy as np

    from spinlock_spec.atomic import atomic_write_bytes

    names = [str(c.get("name", i)) if isinstance(c, dict) else str(i)
             for i, c in enumerate(loaded.metadata.get("categories") or [])]
    if names:
        result["category_names"] = np.array(names)
    import io

    buf = io.BytesIO()
    np.savez(buf, **result)
    atomic_write_bytes(out, buf.getvalue())


def check_output(out: str, data: str, run_folder) -> None:
    """--out must name a new or replaceable file: not a folder, not the data, not a run file."""
    import os
    from pathlib import Path

    from spinlock_spec.errors import UserError
    from spinlock_spec.runs.guard import check_writable

    target = Path(out)
    if target.is_dir():
        raise UserError(f"--out {out}: is a folder; give a file name (e.g. {Path(out) / 'tokens.npz'})",
                        code="E420")
    if target.exists() and Path(data).exists() and os.path.samefile(target, data):
        raise UserError(f"--out {out}: is the --data file; writing the tokens there would destroy the "
                        "data", code="E420", hint="choose another --out")
    if target.resolve().parent == Path(run_folder).resolve():
        raise UserError(f"--out {out}: is inside the run folder {run_folder}, whose files are inputs",
                        code="E420", hint="choose another --out")
    check_writable(target.parent, "--out")
