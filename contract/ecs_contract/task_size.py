"""A task's size, and the larger one an attempt gets after its task ran out of memory.

After an OutOfMemory the next attempt asks for at least `factor` times the memory the task had, as
the smallest Fargate pair that holds it (``overrides.FARGATE_TASK_SIZES``): the same CPU while that
CPU goes with the memory, else the smallest larger CPU that does (more vCPU costs about 9 times
more an hour than a GB of memory, Fargate's price list, so CPU grows only when the memory needs
it). Never above `max_mib`: when the factor would pass it, the attempt gets the most memory at or
below it; when the task already had that, there is nothing larger and the OutOfMemory is final.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from ecs_contract.overrides import FARGATE_TASK_SIZES


@dataclass(frozen=True)
class TaskSize:
    """A task's size as RunTask's overrides give it: CPU units and MiB (a Fargate pair)."""

    cpu: int
    memory: int


# Fargate's largest task: 16 vCPU with 120 GB (overrides.FARGATE_TASK_SIZES).
MAX_MEMORY_MIB = max(max(sizes) for sizes in FARGATE_TASK_SIZES.values())
MIN_MEMORY_MIB = min(min(sizes) for sizes in FARGATE_TASK_SIZES.values())


@dataclass(frozen=True)
class MemoryRetry:
    """How an attempt after an OutOfMemory is sized (template: MemoryRetryFactor, MemoryRetryMaxMiB)."""

    factor: Decimal  # 1: no more memory (an OutOfMemory is final, unless a retry rule says RETRY)
    max_mib: int

    @property
    def enabled(self) -> bool:
        return self.factor > 1

    def next_size(self, current: TaskSize) -> TaskSize | None:
        """The size of the attempt after `current` ran out of memory; None when none is larger."""
        if not self.enabled:
            return None
        # Same CPU or more (a task never loses CPU), more memory, within the ceiling.
        larger = [
            TaskSize(cpu, memory)
            for cpu, sizes in FARGATE_TASK_SIZES.items()
            if cpu >= current.cpu
            for memory in sizes
            if current.memory < memory <= self.max_mib
        ]
        if not larger:
            return None
        wanted = math.ceil(current.memory * self.factor)
        enough = [size for size in larger if size.memory >= wanted]
        if enough:
            return min(enough, key=lambda s: (s.cpu, s.memory))
        return min(larger, key=lambda s: (-s.memory, s.cpu))  # the ceiling is below the factor's

    def largest_size(self) -> TaskSize:
        """A size at least as long as any next_size gives, written out (the overrides hold the memory
        twice, the task's and the container's): what the door checks RunTask's 8,192 chars with."""
        return max(
            (TaskSize(cpu, memory) for cpu, sizes in FARGATE_TASK_SIZES.items() for memory in sizes),
            key=lambda s: (s.memory <= self.max_mib, len(str(s.cpu)) + 2 * len(str(s.memory)), s.memory),
        )
