"""``spinlock-spec data``: write the planted-structure dataset, inspect a dataset file."""
from __future__ import annotations

import click

from spinlock_spec.cli.output import echo_json, format_option


def _families(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise click.BadParameter("give at least one family name", param_hint="--families")
    return names


@click.group("data")
def data_group():
    """Generate and inspect datasets (HDF5 in the spinlock layout, NPZ)."""


@data_group.command("synth")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="Output HDF5 file (spinlock layout; true groups stored beside each family).")
@click.option("--n", "n_samples", type=click.IntRange(min=1), default=None,
              help="Number of rows (default 5000, or the workload's).")
@click.option("--groups", type=click.IntRange(min=1), default=None, help="Hidden groups.")
@click.option("--features-per-group", type=click.IntRange(min=1), default=None,
              help="Summary columns per hidden group.")
@click.option("--noise", type=click.FloatRange(min=0.0), default=None,
              help="Noise std on the standardized features.")
@click.option("--seed", type=int, default=None, help="Random seed.")
@click.option("--variable-length", is_flag=True, default=False,
              help="Temporal samples of different lengths (padded, with a lengths dataset).")
@click.option("--families", default=None,
              help="Comma-separated families (default summary,temporal,initial,architecture; "
                   "summary with --workload).")
@click.option("--workload", type=click.Choice(["A", "B"], case_sensitive=False), default=None,
              help="Start from benchmark workload A (20k x 120, 8 groups) or B (100k x 204, 12 groups).")
@click.option("--spec", "spec", type=click.Path(dir_okay=False), default=None,
              help="Write exactly the families and shapes SPEC reads (its encoders' inputs, widths it names, "
                   "its dataset.synthetic sizes and feature_type), so SPEC trains on the file.")
def synth_cmd(out, n_samples, groups, features_per_group, noise, seed, variable_length, families, workload,
              spec):
    """Write the embedded planted-structure dataset as HDF5."""
    import time

    if spec is not None:
        if families or workload:
            raise click.UsageError("--spec decides the families; leave out --families and --workload")
        overrides = {"n_samples": n_samples, "n_groups": groups, "features_per_group": features_per_group,
                     "noise": noise, "seed": seed, "variable_length": True if variable_length else None}
        _synth_from_spec(spec, out, {k: v for k, v in overrides.items() if v is not None})
        return

    from spinlock_spec.data.hdf5 import write_hdf5
    from spinlock_spec.data.shapes import with_defaults
    from spinlock_spec.data.synthetic import DEFAULT_FAMILIES, WORKLOAD_FAMILIES, generate_synthetic
    from spinlock_spec.data.synthetic import workload as workload_cfg

    cfg = workload_cfg(workload) if workload else with_defaults({})
    overrides = {"n_samples": n_samples, "n_groups": groups, "features_per_group": features_per_group,
                 "noise": noise, "seed": seed}
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    if variable_length:
        cfg["variable_length"] = True
    names = _families(families) if families else list(WORKLOAD_FAMILIES if workload else DEFAULT_FAMILIES)
    start = time.perf_counter()
    dataset = generate_synthetic(cfg, names)
    path = write_hdf5(dataset, out, attrs={"synthetic_config": cfg, "families": names})
    shapes = ", ".join(f"{k} {list(v.shape)}" for k, v in dataset.arrays.items())
    click.echo(f"wrote {path} ({dataset.n_samples} rows, {cfg['n_groups']} hidden groups) in "
               f"{time.perf_counter() - start:.1f}s: {shapes}")


def _synth_from_spec(spec: str, out: str, overrides: dict) -> None:
    import time

    from spinlock_spec.config import resolve
    from spinlock_spec.data.hdf5 import write_hdf5
    from spinlock_spec.data.shapes import with_defaults
    from spinlock_spec.data.spec_layout import describe, spec_layout
    from spinlock_spec.data.synthetic import generate_layout

    resolved = resolve(spec)
    cfg = with_defaults({**resolved.data["dataset"]["synthetic"], **overrides})
    layout = spec_layout(resolved.data, cfg)
    start = time.perf_counter()
    dataset = generate_layout(cfg, layout)
    feature_type = resolved.data["dataset"]["feature_type"]
    path = write_hdf5(dataset, out, feature_type=feature_type,
                      attrs={"synthetic_config": cfg, "families": list(layout), "spec": spec})
    click.echo(f"wrote {path} for {spec} ({dataset.n_samples} rows, {cfg['n_groups']} hidden groups, "
               f"feature_type {feature_type}) in {time.perf_counter() - start:.1f}s: {describe(layout, cfg)}")


@data_group.command("inspect")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--feature-type", default="aggregated", show_default=True,
              help="HDF5 subgroup of the non-temporal families.")
@click.option("--families", default=None, help="Comma-separated families (default: all in the file).")
@format_option()
def inspect_cmd(file, feature_type, families, fmt):
    """Print the families, per-sample shapes and row count of FILE, without loading it."""
    from spinlock_spec.data.sources import N_KEY, open_reader, read_shapes

    if families:
        names = _families(families)
    else:
        with open_reader(file) as reader:
            names = reader.families_present()
        if not names:
            from spinlock_spec.errors import DataError

            raise DataError(f"{file}: no feature families found", code="D004")
    shapes = read_shapes(file, names, feature_type)
    rows = shapes.pop(N_KEY)[0]
    if fmt == "json":
        echo_json({"file": file, "rows": rows, "shapes": {k: list(v) for k, v in shapes.items()}})
        return
    click.echo(f"{file}: N = {rows}")
    width = max(len(k) for k in shapes)
    for key, shape in shapes.items():
        click.echo(f"  {key:<{width}}  {list(shape)}")
