"""``spinlock-spec export RUN --out model.onnx``: the run's normalization, encoder and quantizer
as one ONNX graph (spinlock_spec/onnx_export.py)."""
from __future__ import annotations

import click

from spinlock_spec.cli.output import echo_json, format_option
from spinlock_spec.cli.progress import Progress


@click.command("export")
@click.argument("run", type=str)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=str),
              help="The ONNX file to write (atomically).")
@click.option("--which", type=click.Choice(["best", "final"]), default="best", show_default=True,
              help="Which weights of the run.")
@format_option()
def export_cmd(run, out, which, fmt):
    """Write the tokenizer of RUN (a run folder or zoo:NAME) as ONNX: raw rows in, token ids out.

    Inputs are float64 arrays named as in a dataset file (NAME, NAME/fields), rows first; the
    output `tokens` is int64 [rows, categories, levels], the ids `encode` writes. Needs the onnx
    extra: pip install -e ".[onnx]"."""
    from spinlock_spec.onnx_export import export_onnx
    from spinlock_spec.tokenizer import Tokenizer

    with Progress("export") as progress:
        progress.stage(f"loading {run}")
        tokenizer = Tokenizer.load(run, which=which)
        progress.stage("tracing and writing the ONNX graph")
        info = export_onnx(tokenizer, out)
    if fmt == "json":
        echo_json(info)
        return
    inputs = ", ".join(f"{name} [rows, {', '.join(map(str, shape))}]" for name, shape in info["inputs"].items())
    click.echo(f"Wrote {out}: inputs {inputs} (float64) -> tokens [{', '.join(map(str, info['output']))}] (int64)")
