"""Where the repository and its sample events are, and how a test reads one event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"


def load_event(name: str) -> Any:
    """Load events/<name>.json, e.g. load_event("ecs/stopped-success")."""
    return json.loads((EVENTS / f"{name}.json").read_text())
