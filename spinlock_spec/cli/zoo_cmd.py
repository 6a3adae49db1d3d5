"""``spinlock-spec zoo list|show|pull``: browse and fetch pretrained specs.

Torch-free: nothing here (or in spinlock_spec.zoo) imports torch.
"""
from __future__ import annotations

import json

import click

from spinlock_spec.cli.output import format_option

REGISTRY_HELP = ("Zoo index to use: an http(s) URL, a folder or an index.json "
                 "(default: $SPINLOCK_SPEC_REGISTRY, else the bundled zoo)")
OFFLINE_HELP = "Never touch the network: use only the local cache (also $SPINLOCK_SPEC_OFFLINE=1)"


def _fmt_metric(value) -> str:
    from spinlock_spec.runs_table import cell

    return cell(value)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _entries_for_listing(registry, offline: bool):
    """(entries, where) from the registry, or from the cache when offline."""
    from spinlock_spec.zoo import cache
    from spinlock_spec.zoo.index import load_index

    if offline:
        return cache.list_cached(), f"cache {cache.cache_root()} (offline)"
    index = load_index(registry)
    return index.entries, index.location


def _is_offline(flag: bool) -> bool:
    from spinlock_spec.zoo.pull import offline_from_env

    return flag or offline_from_env()


@click.group("zoo")
def zoo_group():
    """Pretrained specs and weights: list, show, pull and push zoo entries (zoo:NAME); the cache."""


@zoo_group.command("list")
@format_option("table", help="text (or table): a table; json: the entries as JSON.")
@click.option("--registry", default=None, metavar="URL|PATH", help=REGISTRY_HELP)
@click.option("--offline", is_flag=True, help="List the cached entries only. " + OFFLINE_HELP)
def list_cmd(fmt: str, registry: str | None, offline: bool):
    """List the entries of the zoo (every version)."""
    from spinlock_spec.zoo import cache

    offline = _is_offline(offline)
    entries, where = _entries_for_listing(registry, offline)
    cached = {(e.name, e.version) for e in cache.list_cached()}
    if fmt == "json":
        out = []
        for e in entries:
            d = e.to_dict()
            d["has_weights"] = e.has_weights
            d["cached"] = (e.name, e.version) in cached
            out.append(d)
        click.echo(json.dumps({"registry": where, "entries": out}, indent=2))
        return
    header = ("NAME", "VERSION", "WEIGHTS", "QUALITY", "UTILIZATION", "NEEDS DATASET", "CACHED")
    rows = [(e.name, e.version, "yes" if e.has_weights else "no",
             _fmt_metric(e.metrics.get("quality")), _fmt_metric(e.metrics.get("utilization")),
             "yes" if e.needs_dataset else "no", "yes" if (e.name, e.version) in cached else "no")
            for e in sorted(entries, key=lambda e: e.name)]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    if not rows:
        click.echo("(no entries)")
    click.echo(f"\n{len(rows)} entr{'y' if len(rows) == 1 else 'ies'} from {where}", err=True)


def _spec_text(entry, source, offline: bool) -> str | None:
    """The entry's spec text, verified: from the cache when it holds the entry,
    else streamed from the registry into memory (nothing is written)."""
    import io

    from spinlock_spec.zoo import cache
    from spinlock_spec.zoo.fetch import copy_verified

    folder = cache.cache_root() / entry.name / entry.version
    good, _ = cache.verify_folder(folder, expected=entry)
    if good is not None:
        return (folder / entry.spec).read_text(encoding="utf-8", errors="replace")
    if offline or source is None:
        return None
    f = next(f for f in entry.files if f.path == entry.spec)
    stream, declared = source.open_file(entry.name, entry.version, f.path)
    buf = io.BytesIO()
    try:
        copy_verified(stream, buf, size=f.size, sha256=f.sha256,
                      label=f"zoo entry {entry.ref}, file {f.path}",
                      location=source.file_location(entry.name, entry.version, f.path),
                      declared_length=declared)
    finally:
        stream.close()
    return buf.getvalue().decode("utf-8", errors="replace")


@zoo_group.command("show")
@click.argument("ref", metavar="NAME[@VERSION]")
@click.option("--registry", default=None, metavar="URL|PATH", help=REGISTRY_HELP)
@click.option("--offline", is_flag=True, help=OFFLINE_HELP)
@format_option()
def show_cmd(ref: str, registry: str | None, offline: bool, fmt: str):
    """Show an entry's card (description, files, metrics, license) and its spec."""
    from spinlock_spec.errors import ZooError
    from spinlock_spec.zoo import cache
    from spinlock_spec.zoo.index import load_index
    from spinlock_spec.zoo.names import parse_ref

    name, version = parse_ref(ref)
    offline = _is_offline(offline)
    if offline:
        from spinlock_spec.zoo.pull import _offline

        result = _offline(name, version, cache.cache_root())
        entry, source, where, versions = result.entry, None, f"cache {result.path}", \
            cache.cached_versions(name)
    else:
        index = load_index(registry)
        entry = index.get(name, version)
        source, where, versions = index.source, index.location, index.versions(name)
    spec_text = _spec_text(entry, source, offline)
    if spec_text is None:
        raise ZooError(f"zoo entry {entry.ref}: spec not available offline", code="Z050")
    if fmt == "json":
        data = entry.to_dict()
        data.update({"has_weights": entry.has_weights, "registry": where, "versions": versions,
                     "spec_text": spec_text})
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{entry.ref}")
    click.echo(f"  {entry.description}")
    click.echo("")
    td = entry.training_data or {}
    rows = [("license", entry.license),
            ("weights", "yes" if entry.has_weights else "no (spec only)"),
            ("needs dataset", "yes" if entry.needs_dataset else "no"),
            ("data", td.get("description", "-")),
            ("spec hash", entry.spec_hash or "-"),
            ("versions", ", ".join(versions)),
            ("registry", where)]
    if td.get("dataset_path"):
        rows.insert(4, ("dataset path", td["dataset_path"]))
    for key, value in rows:
        click.echo(f"  {key + ':':<15}{value}")
    click.echo("\nfiles:")
    for f in entry.files:
        click.echo(f"  {f.role:<14}{f.path:<28}{_size(f.size):>10}  sha256 {f.sha256[:16]}…")
    click.echo("\nmetrics:")
    if entry.metrics:
        for key, value in entry.metrics.items():
            click.echo(f"  {key + ':':<15}{_fmt_metric(value)}")
    else:
        click.echo("  (none: no weights yet)")
    click.echo(f"\n--- {entry.spec} ---")
    click.echo(spec_text.rstrip("\n"))


@zoo_group.command("pull")
@click.argument("ref", metavar="NAME[@VERSION]")
@click.option("--dest", type=click.Path(file_okay=False), default=None,
              help="Also copy the verified entry into this new or empty folder")
@click.option("--registry", default=None, metavar="URL|PATH", help=REGISTRY_HELP)
@click.option("--offline", is_flag=True, help=OFFLINE_HELP)
def pull_cmd(ref: str, dest: str | None, registry: str | None, offline: bool):
    """Download an entry into the cache (every file verified), print its folder."""
    from spinlock_spec.zoo.names import parse_ref
    from spinlock_spec.zoo.pull import pull_entry

    name, version = parse_ref(ref)
    result = pull_entry(name, version, registry=registry, dest=dest, offline=True if offline else None,
                        log=lambda msg: click.echo(msg, err=True))
    if result.note:
        click.echo(f"note: {result.note}", err=True)
    how = "served from the cache (already verified)" if result.from_cache else "pulled and verified"
    click.echo(f"{result.entry.ref}: {how}", err=True)
    click.echo(str(result.path))


@zoo_group.command("push")
@click.argument("run", type=click.Path(file_okay=False, path_type=str))
@click.argument("name")
@click.option("--version", "version", default="1.0.0", show_default=True, help="The entry's version.")
@click.option("--registry", required=True, metavar="DIR|URL",
              help="A registry folder (updated in place, index rewritten atomically) or an http(s) URL "
                   "(the entry is staged in --out for upload).")
@click.option("--description", default=None, help="One line for the entry's card.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=str), default=None,
              help="HTTP registries: the folder to stage the upload in [default: zoo-upload].")
@click.option("--force", is_flag=True, help="Replace an entry of the same NAME@VERSION.")
@format_option()
def push_cmd(run, name, version, registry, description, out, force, fmt):
    """Pack run folder RUN as zoo entry NAME: best weights, spec, categories, normalization,
    metrics and the sha256 of every file."""
    from spinlock_spec.zoo.push import push_run, upload_instructions

    result = push_run(run, name, registry=registry, version=version, description=description,
                      out=out, force=force)
    entry = result.entry
    if fmt == "json":
        click.echo(json.dumps({"entry": entry.to_dict(), "registry": result.registry,
                               "staged": str(result.staged) if result.staged else None}, indent=2))
        return
    if result.staged is not None:
        click.echo(upload_instructions(result))
        return
    click.echo(f"Pushed {entry.ref} to {result.registry} ({len(entry.files)} files, "
               f"{_size(sum(f.size for f in entry.files))})")


@zoo_group.group("cache")
def cache_group():
    """The local cache of pulled entries: list or remove them."""


@cache_group.command("list")
@format_option()
def cache_list_cmd(fmt):
    """List the cached entries with their size and folder."""
    from spinlock_spec.zoo import cache

    root = cache.cache_root()
    rows = []
    for e in cache.list_cached():
        folder = root / e.name / e.version
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        rows.append({"name": e.name, "version": e.version, "size": size, "path": str(folder),
                     "has_weights": e.has_weights})
    if fmt == "json":
        click.echo(json.dumps({"cache": str(root), "entries": rows}, indent=2))
        return
    for r in rows:
        click.echo(f"{r['name'] + '@' + r['version']:<40}{_size(r['size']):>10}  {r['path']}")
    total = sum(r["size"] for r in rows)
    click.echo(f"{len(rows)} cached entr{'y' if len(rows) == 1 else 'ies'}, {_size(total)}, in {root}", err=True)


@cache_group.command("rm")
@click.argument("refs", nargs=-1, metavar="NAME[@VERSION]...")
@click.option("--all", "remove_all", is_flag=True, help="Remove every cached entry.")
def cache_rm_cmd(refs, remove_all):
    """Remove cached entries (every version of NAME, or NAME@VERSION); they are pulled again
    when next used."""
    from spinlock_spec.zoo.cache import remove_cached

    if not refs and not remove_all:
        raise click.UsageError("give NAME[@VERSION]... or --all")
    removed = remove_cached(None if remove_all else list(refs))
    for path in removed:
        click.echo(f"removed {path}")
    if not removed:
        click.echo("nothing to remove", err=True)
