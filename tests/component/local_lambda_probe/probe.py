"""A function for the local Lambda's tests: says which process runs it, does what its event asks.

Standard library only: it runs in a local Lambda execution environment, not in the test process.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

INVOCATIONS = 0  # module state: Lambda shares it only between invocations of one environment


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global INVOCATIONS
    INVOCATIONS += 1
    if "hold" in event:  # say it started, then wait until the test creates "release"
        folder = Path(event["hold"])
        (folder / f"started-{context.aws_request_id}").touch()
        deadline = time.monotonic() + event.get("holdSeconds", 30)
        while not (folder / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    if "allocateMb" in event:
        block = bytearray(event["allocateMb"] * 1024 * 1024)
        block[-1] = 1
    if "threads" in event:  # run that many threads at once, as the SDK's map runs its branches
        together = threading.Barrier(event["threads"] + 1)
        running = [threading.Thread(target=together.wait, args=(30,)) for _ in range(event["threads"])]
        for thread in running:
            thread.start()
        together.wait(30)
        for thread in running:
            thread.join()
    if event.get("fail"):
        raise ValueError("asked to fail")
    print(f"probe ran in {os.getpid()}", flush=True)
    return {"pid": os.getpid(), "invocations": INVOCATIONS, "logStream": context.log_stream_name}
