"""The whole training step as one CUDA graph (``training.cuda_graphs``).

This model's steps are small (a batch of 1024 rows, ~150k parameters) and bound by
kernel launches: the GPU's kernels take ~1.6 ms of a 5-6 ms eager step (profile in
benchmarks/RESULTS.md).  :class:`StepRunner` records one training step -- forward under
autocast, the weighted loss, backward, the flat-gradient all-reduce of several
processes, clipping, the fused Adam steps and the epoch's loss sums -- as one
``torch.cuda.CUDAGraph`` and then replays it: one launch per step, no compiler.
Capturing takes milliseconds, so the first epoch runs at full speed.

How a step runs:

* the graphs belong to a *state*: the switches the step's Python code branches on
  (straight-through phase, masked credit on/off) and the identities of the parameters
  and optimizers (:func:`model_graph_key`).  When the state changes -- pruning or a
  merge replaces parameters and optimizers, a phase switch -- every graph is dropped.
  Within a state a step's *key* is the shapes of its inputs.  The first step of a new
  key runs eagerly on a side stream (it is a real step: it initialises the codebooks,
  the optimizer state and cuBLAS); the second is captured and replayed, every later one
  replayed.  So the full batch and the epoch's shorter last batch each get a graph (two
  graphs, each with its own memory pool);
* the inputs (a batch's row indices into the resident data, or the streamed rows) are
  copied into the graph's static input tensors before each replay;
* the learning rates are device tensors while a graph exists: the trainer keeps setting
  plain floats in ``param_groups`` (its schedule, checkpoints and logs are unchanged),
  and before a replay every rate that changed is written into its tensor (one small
  copy, no host synchronisation).  Epoch-level scalars of the model (temperature,
  straight-through flag, credit probability) already live in 0-d device buffers;
* everything the graph writes (gradients, loss sums, the quantizer's last residuals)
  stays at fixed addresses between replays.

Nothing here runs on the CPU: there ``StepRunner`` calls the step function directly.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any
import threading

import torch

from spinlock_spec import preload

WARMUP_STEPS = 1      # eager steps of a new key before it is captured


@dataclass
class _Graph:
    graph: Any
    static: dict[str, torch.Tensor]
    keep: list[torch.Tensor] = field(default_factory=list)   # tensors the graph writes (kept alive)


class StepRunner:
    """Runs ``step_fn(inputs)`` eagerly or as a replayed CUDA graph.

    ``step_fn``: one whole training step over ``inputs`` (a dict of tensors), no host
    synchronisation inside; ``state_fn``: ``(switches, objects)``, the hashable switches
    the step branches on and the objects it works on (compared by identity, and held while
    their graphs exist, so an id is never reused under a graph); ``optimizers_fn``: the
    current optimizers (their learning rates become tensors while captured)."""

    def __init__(self, step_fn: Callable[[Mapping[str, torch.Tensor]], None], *,
                 graphs: bool, state_fn: Callable[[], tuple[Hashable, tuple]] = lambda: (None, ()),
                 optimizers_fn: Callable[[], Mapping[str, torch.optim.Optimizer]] = dict,
                 device: torch.device | None = None):
        self.step_fn = step_fn
        self.graphs = bool(graphs)
        self.state_fn = state_fn
        self.optimizers_fn = optimizers_fn
        self.device = device
        self._state: tuple[Hashable, tuple] | None = None
        self._captured: dict[Hashable, _Graph] = {}
        self._seen: dict[Hashable, int] = {}
        self._lr: dict[int, tuple[dict, torch.Tensor, list[float]]] = {}   # id(group) -> (group, tensor, last)
        self._side: torch.cuda.Stream | None = None
        self.captures = 0          # how many graphs were recorded (tests, benchmarks)
        self.replays = 0

    # ------------------------------------------------------------------ public
    def run(self, inputs: Mapping[str, torch.Tensor]) -> None:
        if not self.graphs:
            self.step_fn(inputs)
            return
        switches, objects = self.state_fn()
        if self._state is None or not _same_state(self._state, switches, objects):
            self.invalidate()
            self._state = (switches, objects)
        key = tuple((k, tuple(v.shape), v.dtype) for k, v in sorted(inputs.items()))
        graph = self._captured.get(key)
        if graph is None:
            seen = self._seen.get(key, 0)
            if seen < WARMUP_STEPS:
                self._seen[key] = seen + 1
                self._eager_on_side_stream(inputs)
                return
            graph = self._captured[key] = self._capture(inputs)
        self._replay(graph, inputs)

    def invalidate(self) -> None:
        """Forget every graph (the model or the optimizers were rebuilt)."""
        self._restore_lrs()
        self._captured.clear()
        self._seen.clear()
        self._lr.clear()
        self._state = None

    close = invalidate

    # ------------------------------------------------------------------ internals
    def _eager_on_side_stream(self, inputs: Mapping[str, torch.Tensor]) -> None:
        self._restore_lrs()
        if self._side is None:
            self._side = torch.cuda.Stream(device=self.device)
        current = torch.cuda.current_stream(self.device)
        self._side.wait_stream(current)
        with torch.cuda.stream(self._side):
            self.step_fn(inputs)
        current.wait_stream(self._side)

    def _lr_tensors(self) -> list[tuple[dict, torch.Tensor, list[float]]]:
        out = []
        for opt in self.optimizers_fn().values():
            for group in opt.param_groups:
                entry = self._lr.get(id(group))
                if entry is None or entry[0] is not group:
                    lr = group["lr"]
                    value = float(lr)
                    t = torch.tensor(value, dtype=torch.float32, device=group["params"][0].device)
                    entry = self._lr[id(group)] = (group, t, [value])
                out.append(entry)
        return out

    def _restore_lrs(self) -> None:
        """param_groups hold floats again (an eager step, a checkpoint, a log line)."""
        for group, _t, last in self._lr.values():
            if torch.is_tensor(group["lr"]):
                group["lr"] = last[0]

    def _capture(self, inputs: Mapping[str, torch.Tensor]) -> _Graph:
        static = {k: v.detach().clone() for k, v in inputs.items()}
        entries = self._lr_tensors()
        for opt in self.optimizers_fn().values():
            for group in opt.param_groups:
                group["capturable"] = True      # fused Adam: steps and lr read on the device
        floats = []
        for group, t, last in entries:
            value = float(group["lr"])
            t.fill_(value)
            last[0] = value
            floats.append(value)
        graph = torch.cuda.CUDAGraph()
        if self._side is None:
            self._side = torch.cuda.Stream(device=self.device)
        # capture_begin/end on our side stream rather than the torch.cuda.graph context, which
        # also synchronises the device, runs the garbage collector and empties the allocator's
        # cache on entry (~0.1-0.5 s per recording with this process's many Python objects);
        # thread_local: another thread's CUDA calls (a progress bar, the warm-up) are not ours
        self._side.wait_stream(torch.cuda.current_stream(self.device))
        try:
            for group, t, _ in entries:
                group["lr"] = t
            with torch.cuda.stream(self._side):
                graph.capture_begin(capture_error_mode="thread_local")
                try:
                    self.step_fn(static)
                finally:
                    graph.capture_end()
        finally:
            for (group, _, _), value in zip(entries, floats):
                group["lr"] = value
        torch.cuda.current_stream(self.device).wait_stream(self._side)
        self.captures += 1
        keep = [p.grad for opt in self.optimizers_fn().values() for g in opt.param_groups
                for p in g["params"] if p.grad is not None]
        return _Graph(graph, static, keep)

    def _replay(self, graph: _Graph, inputs: Mapping[str, torch.Tensor]) -> None:
        for k, v in inputs.items():
            dst = graph.static[k]
            if v.data_ptr() != dst.data_ptr():
                dst.copy_(v, non_blocking=True)
        for group, t, last in self._lr_tensors():
            value = float(group["lr"])
            if value != last[0]:
                t.fill_(value)
                last[0] = value
        graph.graph.replay()
        self.replays += 1


def _same_state(state: tuple[Hashable, tuple], switches: Hashable, objects: tuple) -> bool:
    old_switches, old_objects = state
    return (old_switches == switches and len(old_objects) == len(objects)
            and all(a is b for a, b in zip(old_objects, objects)))


def model_graph_key(model: torch.nn.Module, optimizers: Mapping[str, Any] | None = None
                    ) -> tuple[Hashable, tuple]:
    """(switches, objects) of a recorded step: the learnable model's straight-through
    phase, masked credit and Gumbel noise switches (the step's Python branches on them),
    and the parameters and optimizers (pruning and merging replace both)."""
    switches = tuple((name, bool(getattr(model, name))) for name in ("straight_through", "credit_mask",
                                                                     "gumbel_noise")
                     if hasattr(model, name))
    objects = tuple(model.parameters()) + tuple((optimizers or {}).values())
    return switches, objects


# Modules the CUDA path imports later on the main thread: the optimizer's first step
# imports torch._dynamo (~1.2 s), clustering the features SciPy's hierarchy (~0.35 s).  In
# the order the main thread needs them.  (scikit-learn is not on this path: only the
# non-default normalizations and the silhouette import it, data/transforms.py and
# data/discovery.py.)
PRELOADED_MODULES = ("scipy.cluster.hierarchy", "torch._dynamo")


def warm_up_cuda(device: str | None, preload_modules: tuple[str, ...] = PRELOADED_MODULES) -> threading.Thread | None:
    """Start the CUDA context and cuBLAS in a background thread while the host prepares the
    data (``training.device`` auto/cuda/cuda:N).  Finding the driver, creating the context
    and loading the matrix libraries take about a second that otherwise precedes the first
    step.  No random numbers are drawn (the trainer's RNG streams are unchanged); errors
    are left for the trainer to meet and report.  With a GPU, a second thread imports
    ``preload_modules`` (default :data:`PRELOADED_MODULES`) meanwhile: the data preparation spends its
    time in numpy calls that release the GIL, so the imports cost the run almost nothing (the
    main thread calls :func:`spinlock_spec.preload.wait` before it imports any of them
    itself).  ``()`` when the data are prepared on another thread, which imports what it
    needs itself (two threads importing one package can meet half-initialised modules)."""
    if str(device).startswith("cpu"):
        return None

    def work() -> None:
        try:
            if not torch.cuda.is_available():        # auto without a GPU: nothing to start
                return
            if preload_modules:
                preload.start(preload_modules)
            target = torch.device("cuda" if device in (None, "auto") else device)
            with torch.cuda.device(target):
                a = torch.ones(64, 64, device=target)
                (a @ a).sum()
                b = a.to(torch.bfloat16)
                (b @ b).sum()
                torch.cuda.synchronize(target)
        except Exception:  # noqa: BLE001 - a real problem surfaces in the trainer
            return

    thread = threading.Thread(target=work, name="spinlock-cuda-warmup", daemon=True)
    thread.start()
    return thread
