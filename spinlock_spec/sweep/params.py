"""Swept parameters (``-p KEY=VALUES``) and the check that compiles every trial's spec
before any trial runs.  Torch- and optuna-free: a sweep's spec errors answer at once.

``-p training.learning_rate=1e-3,3e-4``   a list: grid / categorical choices (YAML values)
``-p model.commitment_cost=0.25:0.5``      a range: searched (integers when both ends are)
``-p training.learning_rate=1e-4:1e-2:log`` a range searched on a log scale
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from spinlock_spec.errors import Diagnostic, SpecError, UserError

GRID_COMPILE_LIMIT = 512      # grids up to this size are compiled combination by combination


@dataclass(frozen=True)
class Param:
    """One ``-p`` argument: ``choices`` (raw YAML texts) or a numeric range."""

    key: str
    text: str                       # the argument as written (for messages)
    index: int                      # 1-based position among the -p arguments
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False

    @property
    def is_range(self) -> bool:
        return self.low is not None

    def where(self) -> str:
        return f"-p {self.text} (argument {self.index})"

    def override(self, value) -> str:
        """The ``--set`` text giving this parameter ``value`` (a choice text or a number)."""
        if self.is_range:
            return f"{self.key}={int(value) if self.integer else float(value)!r}"
        return f"{self.key}={value}"

    def check_values(self) -> list:
        """The values every trial's spec is checked with: each choice, or both range ends."""
        if self.is_range:
            return [int(self.low), int(self.high)] if self.integer else [self.low, self.high]
        return list(self.choices)

    def to_dict(self) -> dict:
        return {"key": self.key, "text": self.text, "choices": list(self.choices), "low": self.low,
                "high": self.high, "log": self.log, "integer": self.integer}


def _number(text: str):
    text = text.strip()
    try:
        return int(text), True
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None, False
    return (value, False) if math.isfinite(value) else (None, False)


def parse_param(text: str, index: int) -> Param:
    """Parse one ``-p KEY=VALUES`` argument; a malformed one is a SpecError located at it."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    where = f"-p {text} (argument {index})"

    def fail(message: str, hint: str) -> SpecError:
        return SpecError(message, code="E010", location=where, hint=hint)

    if not sep or not key or not raw.strip():
        raise fail("a swept parameter needs KEY=VALUES",
                   "a list: -p training.learning_rate=1e-3,3e-4; a range: -p model.commitment_cost=0.25:0.5")
    parts = raw.split(":")
    if len(parts) in (2, 3) and "," not in raw:
        (low, low_int), (high, high_int) = _number(parts[0]), _number(parts[1])
        scale = parts[2].strip().lower() if len(parts) == 3 else "linear"
        if low is not None and high is not None:
            if scale not in ("linear", "log"):
                raise fail(f"unknown range scale {parts[2]!r}", "write LOW:HIGH or LOW:HIGH:log")
            if not low < high:
                raise fail(f"the range {raw} is empty: LOW must be below HIGH", "e.g. 0.25:0.5")
            if scale == "log" and low <= 0:
                raise fail(f"a log range needs LOW > 0, got {parts[0]}", "e.g. 1e-4:1e-2:log")
            integer = low_int and high_int
            return Param(key, text, index, low=float(low), high=float(high), log=scale == "log",
                         integer=bool(integer))
    choices = tuple(c.strip() for c in raw.split(","))
    if any(not c for c in choices):
        raise fail(f"empty value in the list {raw!r}", "separate values by commas: 1e-3,3e-4")
    if len(set(choices)) != len(choices):
        raise fail(f"a value is listed twice in {raw!r}", "list each value once")
    return Param(key, text, index, choices=choices)


def parse_params(texts) -> list[Param]:
    """Parse every ``-p``; all malformed ones are reported together (one SpecError)."""
    params, problems, seen = [], [], {}
    for i, text in enumerate(texts, 1):
        try:
            p = parse_param(text, i)
        except SpecError as exc:
            problems.append(Diagnostic("E010", exc.message, file=exc.location, hint=exc.hint))
            continue
        if p.key in seen:
            problems.append(Diagnostic("E010", f"{p.key} is swept twice (also by argument {seen[p.key]})",
                                       file=p.where(), hint="give each key one -p"))
            continue
        seen[p.key] = i
        params.append(p)
    if not texts:
        problems.append(Diagnostic("E010", "nothing to sweep", file="-p",
                                   hint="add -p KEY=A,B (a list) or -p KEY=LOW:HIGH (a range)"))
    if problems:
        raise SpecError(f"{len(problems)} bad -p argument(s)", code="E010", diagnostics=problems)
    return params


def is_grid(params: list[Param]) -> bool:
    return all(not p.is_range for p in params)


def grid(params: list[Param]) -> list[dict]:
    """Every combination of the list parameters, as {key: choice text}."""
    keys = [p.key for p in params]
    return [dict(zip(keys, combo)) for combo in itertools.product(*(p.choices for p in params))]


def trial_overrides(params: list[Param], values: dict, fixed=()) -> list[str]:
    """The ``--set`` overrides of one trial: the fixed ones, then the swept values."""
    by_key = {p.key: p for p in params}
    return list(fixed) + [by_key[k].override(v) for k, v in values.items()]


@dataclass
class CheckResult:
    """What :func:`check_all` found: hashes of the checked grid combinations and the base."""

    base_hash: str
    hashes: dict = field(default_factory=dict)       # tuple(sorted values) -> spec hash (grid only)


def _compile_problems(spec, overrides, where: str) -> tuple[str | None, list[Diagnostic]]:
    from spinlock_spec.compile.compiled import compile_spec, spec_source

    try:
        compiled = compile_spec(spec_source(spec), overrides=tuple(overrides))
    except UserError as exc:
        diags = exc.diagnostics or [Diagnostic(exc.code, exc.message, file=exc.location, hint=exc.hint)]
        return None, [_relocate(d, where) for d in diags]
    return compiled.hash, [_relocate(d, where) for d in compiled.errors]


def _relocate(d: Diagnostic, where: str) -> Diagnostic:
    if d.file is None or str(d.file).startswith("--set"):
        d.file, d.line, d.col = where, None, None
    else:
        d.message = f"{d.message} (with {where})"
    return d


def check_all(spec, params: list[Param], fixed=()) -> CheckResult:
    """Compile the base spec (with ``fixed``), then every swept value, and for grids up to
    GRID_COMPILE_LIMIT combinations every combination.  All errors are raised together, each
    located at the ``-p`` argument (and value) that caused it."""
    base_hash, problems = _compile_problems(spec, fixed, "--set")
    if problems:
        raise SpecError("the base spec (with --set) has errors", code="E011", diagnostics=problems)
    result = CheckResult(base_hash)
    bad_values = set()
    for p in params:
        for value in p.check_values():
            _, found = _compile_problems(spec, trial_overrides(params, {p.key: value}, fixed),
                                         f"{p.where()}, value {value}")
            if found:
                bad_values.add(p.key)
            problems += found
    if not problems and is_grid(params):
        combos = grid(params)
        if len(combos) <= GRID_COMPILE_LIMIT:
            for combo in combos:
                where = ", ".join(f"-p {k}={v}" for k, v in combo.items())
                digest, found = _compile_problems(spec, trial_overrides(params, combo, fixed), where)
                problems += found
                result.hashes[tuple(combo.values())] = digest
    if problems:
        raise SpecError(f"{len(problems)} problem(s) in the sweep's trial specs", code="E011",
                        diagnostics=problems)
    return result
