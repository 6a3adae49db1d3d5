"""What a sweep folder holds, as a table: every trial with its swept values, metric,
time and status; the best trial's spec (written as best.yaml, compilable) and its
semantic diff against the base spec."""
from __future__ import annotations

import json
from pathlib import Path

from spinlock_spec.sweep import study as st
from spinlock_spec.sweep.params import parse_params, trial_overrides
from spinlock_spec.runs_table import cell


def sweep_summary(sweep_dir, write_best: bool = True) -> dict:
    """The table of a sweep folder as a dict (what ``sweep show --format json`` prints)."""
    info = st.read_sweep_file(sweep_dir)
    definition = info["definition"]
    study = st.load_study(info)
    params = parse_params(definition["params"])
    keys = [p.key for p in params]
    rows, counts, interrupted = [], {}, []
    for t in study.get_trials(deepcopy=False):
        status = st.trial_status(t)
        counts[status] = counts.get(status, 0) + 1
        if status == "interrupted":          # queued again: the retry is its row
            interrupted.append(t.number)
        if status in ("surplus", "interrupted"):
            continue
        a = t.user_attrs
        rows.append({"trial": t.number, "values": {k: t.params.get(k) for k in keys},
                     "metric": t.value if status == "complete" else None, "status": status,
                     "seconds": a.get("seconds"), "reused_from": a.get("reused_from"),
                     "retry_of": a.get("retry_of"), "error": a.get("error"), "host": a.get("host"),
                     "run_dir": a.get("run_dir"), "spec_hash": a.get("spec_hash")})
    summary = {"sweep": str(sweep_dir), "study": info["study"], "storage": info["storage"],
               "spec": info["spec"], "metric": definition["metric"],
               "direction": st.direction_of(definition["metric"]), "params": definition["params"],
               "fixed": definition["fixed"], "planned_trials": definition["trials"], "counts": counts,
               "trials": rows, "interrupted": interrupted, "best": None, "diff": None}
    done = [r for r in rows if r["status"] == "complete"]
    if done:
        pick = min if summary["direction"] == "minimize" else max
        best = pick(done, key=lambda r: (r["metric"], -r["trial"]) if pick is max else (r["metric"], r["trial"]))
        summary["best"] = best
        summary["diff"], best_text = _best_spec(info, params, best, sweep_dir, write_best)
        summary["best_spec"] = str(Path(sweep_dir) / st.BEST_FILE) if write_best else None
        summary["best_yaml"] = best_text
    return summary


def _best_spec(info, params, best, sweep_dir, write):
    from spinlock_spec.atomic import atomic_write_text
    from spinlock_spec.compile.compiled import compile_spec, spec_source
    from spinlock_spec.compile.diff import diff_specs
    from spinlock_spec.config import dump_resolved

    values = {k: v for k, v in best["values"].items() if v is not None}
    overrides = trial_overrides(params, values, info["definition"]["fixed"])
    compiled = compile_spec(spec_source(info["spec"]), overrides=tuple(overrides))
    text = dump_resolved(compiled.spec)
    base = compile_spec(spec_source(info["spec"]))
    if write:
        path = Path(sweep_dir) / st.BEST_FILE
        atomic_write_text(path, text)
        return diff_specs(base, path), text
    return diff_specs(base, compiled), text


def _fmt(value) -> str:
    return cell(value, ".4g")


def table_text(summary: dict) -> str:
    keys = [p.split("=", 1)[0] for p in summary["params"]]
    header = ["trial", *keys, summary["metric"], "time", "status"]
    lines = []
    for r in summary["trials"]:
        status = r["status"]
        if r["reused_from"] is not None:
            status += f" (same spec as {r['reused_from']})"
        if r["error"]:
            status += ": " + r["error"].splitlines()[0][:80]
        seconds = f"{r['seconds']:.1f}s" if r["seconds"] is not None else "-"
        lines.append([str(r["trial"]), *(_fmt(r["values"].get(k)) for k in keys), _fmt(r["metric"]),
                      seconds, status])
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header) - 1)]
    out = [f"sweep {summary['sweep']}: {len(summary['trials'])} trial(s) of {summary['planned_trials']} "
           f"planned, {summary['metric']} ({summary['direction']})  "
           + ", ".join(f"{n} {s}" for s, n in sorted(summary["counts"].items()) if s != "surplus")]
    for row in [header, *lines]:
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
    best = summary["best"]
    if best is None:
        out.append("no finished trial yet")
        return "\n".join(out) + "\n"
    shown = ", ".join(f"{k}={_fmt(v)}" for k, v in best["values"].items())
    out.append(f"best: trial {best['trial']} ({shown}): {summary['metric']}={_fmt(best['metric'])}")
    if summary.get("best_spec"):
        out.append(f"best spec: {summary['best_spec']}")
    from spinlock_spec.compile.diff import diff_text

    out.append(diff_text(summary["diff"]).rstrip("\n"))
    return "\n".join(out) + "\n"


def summary_json(summary: dict) -> str:
    data = dict(summary)
    data.pop("best_yaml", None)
    data["diff"] = summary["diff"].to_dict() if summary["diff"] is not None else None
    return json.dumps(data, indent=2, default=str)
