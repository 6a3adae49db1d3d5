"""How a trainer runs its training steps: eagerly, or recorded as one CUDA graph, and with
gradients averaged across processes through one flat buffer (docs/gpu.md).

:class:`StepEngine` is the trainer's part between its epoch loop and its ``train_step``:

* ``graphs``: on CUDA, unless torch.compile is on or ``training.cuda_graphs`` is false,
  every step goes through :class:`~spinlock_spec.train.cuda_graph_step.StepRunner`
  (recorded once per shape and state, then replayed);
* several processes: rank 0's weights are broadcast once, the quantizers' statistics
  are synchronised by their hooks (train/distributed.py), and the gradients are views of
  one flat buffer (train/flat_allreduce.py) that :meth:`reduce_gradients` averages with one
  all-reduce, inside the recorded step;
* the epoch's loss sums live in one device buffer that the (recorded) step adds to, so
  they are read once per epoch.

The inputs of a step are ``{"rows": index}`` into the trainer's resident training arrays,
or a streamed batch as it is; :meth:`run` returns the number of rows.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from .cuda_graph_step import StepRunner, model_graph_key
from .metrics import take_rows


class StepEngine:
    def __init__(self, trainer: Any):
        self.trainer = trainer
        cfg = trainer.cfg
        if trainer.use_cuda:            # dynamo/inductor/TF32 messages to the debug log
            from .torch_messages import route_torch_messages
            route_torch_messages()
        self.graphs = bool(trainer.use_cuda and not cfg.use_torch_compile and cfg.cuda_graphs is not False)
        self.flat = None
        if trainer.dist.enabled:
            from .distributed import attach_quantizer_sync, mark_training_started
            from .flat_allreduce import broadcast_parameters
            mark_training_started()
            attach_quantizer_sync(trainer.model)
            broadcast_parameters(trainer.model)
        self.sums: torch.Tensor | None = None
        self.names: tuple[str, ...] = ()
        self.runner = StepRunner(self._step, graphs=self.graphs, device=trainer.device,
                                 state_fn=lambda: model_graph_key(trainer.model, trainer.optimizers),
                                 optimizers_fn=lambda: trainer.optimizers)

    def describe(self) -> list[str]:
        """The console line saying how a GPU run trains (nothing on the CPU)."""
        t = self.trainer
        if not t.use_cuda:
            return []
        how = ("one CUDA graph per step" if self.graphs else
               "torch.compile" if t.cfg.use_torch_compile else "eager steps")
        procs = f", {t.dist.world_size} processes" if t.dist.enabled else ""
        return [f"GPU training on {t.device}: {how}, {'bf16 autocast' if t.autocast_bf16 else 'fp32'}{procs}"]

    # ------------------------------------------------------------------ gradients
    def zero_grad(self) -> None:
        if self._flat() is not None:
            self.flat.zero()
            return
        for opt in self.trainer.optimizers.values():
            opt.zero_grad(set_to_none=True)

    def reduce_gradients(self) -> None:
        """Average the gradients over the processes (one all-reduce; alone: nothing)."""
        if self.flat is not None:
            self.flat.average()

    def _flat(self):
        """The flat gradient buffer under several processes, over the current optimizers'
        parameters (made again when they change; pruning is refused under several processes)."""
        t = self.trainer
        if not t.dist.enabled:
            return None
        params = [p for opt in t.optimizers.values() for g in opt.param_groups for p in g["params"]]
        if self.flat is None or len(self.flat.params) != len(params) or any(
                a is not b for a, b in zip(self.flat.params, params)):
            from .flat_allreduce import FlatGradients
            self.flat = FlatGradients(params, t.dist.world_size)
        return self.flat

    # ------------------------------------------------------------------ an epoch of steps
    def begin_epoch(self, names: Sequence[str]) -> None:
        """Zero the epoch's loss sums (one buffer, the address a recorded step adds to)."""
        names = tuple(names)
        if self.sums is None or names != self.names:
            self.sums = torch.zeros(2 * len(names), dtype=torch.float64, device=self.trainer.device)
            self.names = names
            self.runner.invalidate()
        self.sums.zero_()

    def run(self, inputs: Mapping[str, torch.Tensor]) -> int:
        self.runner.run(inputs)
        return int(next(iter(inputs.values())).shape[0])

    def epoch_sums(self) -> torch.Tensor:
        return self.sums.clone()

    def _step(self, inputs: Mapping[str, torch.Tensor]) -> None:
        t = self.trainer
        batch = take_rows(t.train_arrays, inputs["rows"]) if t.train_stream is None else inputs
        weighted, raw = t.train_step(batch, self.names)
        rows = int(next(iter(batch.values())).shape[0])
        self.sums += torch.cat([weighted.detach(), raw.detach()]).double() * rows

    # ------------------------------------------------------------------ lifecycle
    def invalidate(self) -> None:
        """Drop the recorded steps (the optimizers' state was replaced, e.g. on resume)."""
        self.runner.invalidate()

    def close(self) -> dict[str, Any]:
        """Release the recorded graphs (before the process group goes); what ran, for the
        run's history."""
        self.runner.close()
        return {"cuda_graphs": self.graphs, "captures": self.runner.captures,
                "replays": self.runner.replays, "bf16": bool(self.trainer.autocast_bf16)}
