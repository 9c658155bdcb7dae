"""What the SDK's `map` does with a callback completed while an invocation runs (SDK 3.0.0 and its
test runner, which the local cloud runs): the branch waiting on that callback has already counted
as suspended and is resumed only by a later invocation; the execution is not invoked again for a
change the function was already sent. So a fan-out's slot stays taken until the next completion
(or a retry of a PENDING with nothing pending) wakes the execution. The outcome is still right.
`run_tasks` waits as a timed suspension for that reason (durable_ecs.task._wait_in_the_map), and
its tests complete callbacks between invocations (test_fanout.settled).

When this test fails, the SDK resumes such a branch at once: _wait_in_the_map and the README's
"Slots free at once" can go."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Sequence
from types import CodeType
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import CallbackConfig, Duration, MapConfig
from aws_durable_execution_sdk_python.execution import InvocationStatus
from aws_durable_execution_sdk_python.types import StepContext
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

from testkit.poll import poll


def _in_frame(thread_id: int, code: CodeType) -> bool:
    frame = sys._current_frames().get(thread_id)
    while frame is not None:
        if frame.f_code is code:
            return True
        frame = frame.f_back
    return False


def test_a_branch_whose_callback_completes_mid_invocation_waits_for_the_next_wake():
    callback_ids: dict[int, str] = {}
    branch_threads: dict[int, int] = {}
    first_completed = threading.Event()
    created: list[int] = []

    def branch(ctx: DurableContext, item: int, index: int, items: Sequence[int]) -> Any:
        callback = ctx.create_callback(name="done", config=CallbackConfig(timeout=Duration.from_seconds(300)))
        callback_ids[index] = callback.callback_id
        branch_threads[index] = threading.get_ident()
        if index not in created:
            created.append(index)
        if index == 1 and not first_completed.is_set():

            def complete_the_first(_: StepContext) -> str:
                # Branch 0 has suspended on its callback (its thread left `branch`): complete it now,
                # while this invocation runs; the step's checkpoint response carries it back
                poll(
                    lambda: (
                        (0 in branch_threads and not _in_frame(branch_threads[0], branch.__code__)) or None
                    ),
                    what="branch 0 suspended",
                )
                runner.send_callback_success(callback_ids[0], json.dumps("zero").encode())
                first_completed.set()
                return "sent"

            ctx.step(complete_the_first, name="complete the first")
        return callback.result()

    @durable_execution
    def handler(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
        return ctx.map([0, 1, 2], branch, name="fan", config=MapConfig(max_concurrency=2)).to_dict()

    with DurableFunctionTestRunner(handler=handler, poll_interval=0.02) as runner:
        arn = runner.run_async(input="{}", timeout=60)

        def invocations() -> int:
            events = runner.get_execution_history(arn).events
            return sum(1 for e in events if e.event_type == "InvocationCompleted")

        # The first invocation ends with branch 0's callback succeeded, yet its slot still taken:
        # branch 2 has not started (a resume within the invocation would have started it before
        # the invocation ended)
        poll(lambda: invocations() >= 1 or None, what="the first invocation ended")
        assert first_completed.is_set()
        assert sorted(created) == [0, 1]
        assert invocations() == 1

        # The next completion wakes the execution: branch 0 finishes in the replay, branch 2 starts
        runner.send_callback_success(callback_ids[1], json.dumps("one").encode())
        poll(lambda: 2 in callback_ids or None, what="branch 2 started")
        runner.send_callback_success(callback_ids[2], json.dumps("two").encode())
        result = runner.wait_for_result(arn, timeout=30)

    assert result.status is InvocationStatus.SUCCEEDED and result.result is not None
    assert [item["result"] for item in json.loads(result.result)["all"]] == ['"zero"', '"one"', '"two"']
