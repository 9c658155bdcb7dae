"""The durable function's own RunTask pace (aws_adapters.ecs.Pace): the branches of a fan-out share
it, and start tasks at the rate ECS grants instead of asking past it and failing in turn."""

from __future__ import annotations

import threading
from typing import Any

from aws_adapters.ecs import RUN_TASK_BURST, RUN_TASK_PER_SECOND, EcsGateway, Pace, TaskLaunch


class Clock:
    def __init__(self) -> None:
        self.now, self.slept = 100.0, 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += seconds


def test_a_burst_passes_at_once_then_calls_wait_their_turn_at_the_rate():
    clock = Clock()
    pace = Pace(per_second=20, burst=20, clock=clock, sleep=clock.sleep)
    for _ in range(20):
        pace.wait()
    assert clock.slept == 0
    for _ in range(40):
        pace.wait()
    assert clock.slept == 2.0  # 40 more at 20 a second


def test_time_between_calls_refills_the_burst_but_never_past_it():
    clock = Clock()
    pace = Pace(per_second=20, burst=20, clock=clock, sleep=clock.sleep)
    for _ in range(20):
        pace.wait()
    clock.now += 60  # a quiet minute refills 20, not 1,200
    for _ in range(21):
        pace.wait()
    assert clock.slept == 0.05


def test_threads_sharing_a_pace_are_spread_over_the_rate():
    pace = Pace(per_second=1000, burst=1)
    went: list[float] = []
    lock = threading.Lock()

    def call() -> None:
        pace.wait()
        with lock:
            went.append(pace.clock())

    threads = [threading.Thread(target=call) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert max(went) - min(went) >= 49 / 1000  # 50 calls, 1 at once, 1,000 a second


def test_the_gateway_paces_run_task_at_fargate_s_published_rate():
    calls: list[float] = []
    clock = Clock()

    class Ecs:
        def run_task(self, **_: Any) -> dict[str, Any]:
            calls.append(clock.now)
            return {"tasks": [{"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/c/t"}]}

    assert (EcsGateway(Ecs()).run_task_pace.per_second, EcsGateway(Ecs()).run_task_pace.burst) == (
        RUN_TASK_PER_SECOND,
        RUN_TASK_BURST,
    )
    gateway = EcsGateway(Ecs(), Pace(per_second=20, burst=1, clock=clock, sleep=clock.sleep))
    launch = TaskLaunch("arn:aws:ecs:us-east-1:123456789012:cluster/c", "worker:1", ("subnet-1",))
    for _ in range(3):
        assert gateway.start(launch, started_by="s", client_token="t", overrides={}) == (
            "arn:aws:ecs:us-east-1:123456789012:task/c/t"
        )
    assert calls == [100.0, 100.05, 100.1]  # one at once, then one every 1/20 s
