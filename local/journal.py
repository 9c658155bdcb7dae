"""Append-only JSON-lines records the local cloud keeps of what it did (tasks, event deliveries)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def iso(value: datetime | None = None) -> str:
    """UTC, milliseconds, "Z": the timestamp format of ECS events."""
    value = value or datetime.now(UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Journal:
    """One JSON object per line, each stamped with ``at``; safe to write from several threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, **fields: Any) -> None:
        line = json.dumps({"at": iso(), **fields})
        with self._lock, self.path.open("a") as f:
            f.write(line + "\n")
