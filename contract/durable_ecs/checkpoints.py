"""How the steps' typed results are checkpointed: as their contract document, in plain JSON.

The step's function returns the model; the SDK serializes it at the checkpoint and hands back
the deserialized value on the first run and on every replay alike. Plain `json.dumps` of the
model's `to_dict()` writes the same bytes the earlier dict-returning steps wrote, so an execution
checkpointed by an earlier version replays through `from_dict` unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from aws_durable_execution_sdk_python.serdes import SerDes, SerDesContext


class Document(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


D = TypeVar("D", bound=Document)


class DocumentSerDes(SerDes[D]):
    def __init__(self, from_dict: Callable[[Mapping[str, Any]], D]) -> None:
        self._from_dict = from_dict

    def serialize(self, value: D, _: SerDesContext) -> str:
        return json.dumps(value.to_dict())

    def deserialize(self, data: str, _: SerDesContext) -> D:
        return self._from_dict(json.loads(data))
