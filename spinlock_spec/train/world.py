"""The process's place among several training processes, read from the environment that
torchrun and ``--nproc`` set (WORLD_SIZE, RANK, LOCAL_RANK), without importing torch: the
command line and the run folder ask this before torch is needed (train/distributed.py joins
the group)."""
from __future__ import annotations

import os
from dataclasses import dataclass


def env_world_size() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def local_slice(self, start: int, stop: int) -> tuple[int, int]:
        """This rank's part [a, b) of the global batch rows [start, stop)."""
        n = stop - start
        per, extra = divmod(n, self.world_size)
        a = start + self.rank * per + min(self.rank, extra)
        return a, a + per + (1 if self.rank < extra else 0)
