"""``spinlock-spec doctor``: what this installation is made of and where it keeps things,
for bug reports and for checking a GPU set-up."""
from __future__ import annotations

import os
import platform
import sys

import click

from spinlock_spec.cli.output import echo_json, format_option

ENVIRONMENT = ("SPINLOCK_SPEC_REGISTRY", "SPINLOCK_SPEC_CACHE", "SPINLOCK_SPEC_OFFLINE",
               "SPINLOCK_SPEC_DEBUG", "CUDA_VISIBLE_DEVICES")


def _version(module: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return None


def _torch_facts() -> dict:
    """torch's version, its CUDA build and the devices it sees (no torch: said so)."""
    try:
        import torch
    except ImportError as exc:
        return {"torch": None, "problem": f"torch cannot be imported ({exc})"}
    facts = {"torch": torch.__version__, "cuda_build": torch.version.cuda,
             "cuda_available": bool(torch.cuda.is_available()), "devices": [],
             "cpu_threads": torch.get_num_threads()}
    if facts["cuda_available"]:
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            facts["devices"].append({"index": i, "name": props.name,
                                     "memory_gib": round(props.total_memory / 2**30, 1),
                                     "capability": f"{props.major}.{props.minor}"})
        facts["bf16_supported"] = bool(torch.cuda.is_bf16_supported())
    return facts


def collect() -> dict:
    """Everything ``doctor`` prints, as one dict."""
    import spinlock_spec
    from spinlock_spec.resources import schema_dir, zoo_dir
    from spinlock_spec.zoo.cache import cache_root
    from spinlock_spec.zoo.index import default_registry

    return {
        "spinlock_spec": spinlock_spec.__version__, "location": os.path.dirname(spinlock_spec.__file__),
        "python": sys.version.split()[0], "executable": sys.executable, "platform": platform.platform(),
        "libraries": {name: _version(name) for name in
                      ("numpy", "h5py", "scikit-learn", "safetensors", "click", "ruamel.yaml",
                       "jsonschema", "matplotlib", "onnx", "onnxruntime")},
        **_torch_facts(),
        "zoo_cache": str(cache_root()), "zoo_registry": default_registry(), "bundled_zoo": str(zoo_dir()),
        "schema_dir": str(schema_dir()),
        "environment": {name: os.environ.get(name) for name in ENVIRONMENT},
    }


@click.command("doctor")
@format_option()
def doctor_cmd(fmt):
    """Print versions (spinlock-spec, Python, torch, CUDA), the devices torch sees, and the
    zoo cache, registry and schema locations."""
    facts = collect()
    if fmt == "json":
        echo_json(facts)
        return
    rows = [("spinlock-spec", f"{facts['spinlock_spec']} ({facts['location']})"),
            ("python", f"{facts['python']} ({facts['executable']})"), ("platform", facts["platform"])]
    if facts["torch"] is None:
        rows.append(("torch", facts["problem"]))
    else:
        cuda = facts["cuda_build"] or "none (CPU-only build)"
        rows += [("torch", facts["torch"]), ("CUDA build", cuda),
                 ("CUDA available", "yes" if facts["cuda_available"] else "no"),
                 ("CPU threads", str(facts["cpu_threads"]))]
        for d in facts["devices"]:
            rows.append((f"cuda:{d['index']}", f"{d['name']}, {d['memory_gib']} GiB, compute {d['capability']}"))
        if not facts["devices"]:
            rows.append(("devices", "cpu only"))
    rows += [(name, version or "not installed") for name, version in facts["libraries"].items()]
    rows += [("zoo cache", facts["zoo_cache"]), ("zoo registry", facts["zoo_registry"]),
             ("bundled zoo", facts["bundled_zoo"]), ("schema", facts["schema_dir"])]
    rows += [(f"${name}", value) for name, value in facts["environment"].items() if value is not None]
    width = max(len(k) for k, _ in rows) + 2
    for key, value in rows:
        click.echo(f"{key + ':':<{width}}{value}")
