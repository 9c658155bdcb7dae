"""ECS, for both functions: each call written once. The orchestrator starts, describes and stops its
worker tasks (from inside durable steps); the relay describes them and stops an ended execution's.

Throttling, 5xx and network errors are raised as AwsUnavailable (RunTask's throttling as its
subclass AwsThrottled; aws_adapters.errors); an answer that ends in the contract's terms (a start
ECS refused, a task ECS no longer knows) is returned.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from aws_adapters.errors import ErrorAnswer, transient_as_unavailable
from ecs_contract.limits import LimitExceeded, check_overrides
from ecs_contract.outcome import ErrorType, TaskFailed
from ecs_contract.tags import run_task_tags
from ecs_contract.usage import CapacityProvider

# StopTask's answer for a task ECS no longer knows: stopped tasks stay describable "for at least one
# hour" (DescribeTasks), then StopTask answers InvalidParameterException "The referenced task was
# not found." (local/ecs_rules.py says where that was seen). ClientException is the other of
# StopTask's errors in botocore's ECS model that can mean it: "it might be specifying an
# identifier that isn't valid" (ClientException).
UNKNOWN_TASK_CODES = frozenset({"InvalidParameterException", "ClientException"})
# The model states no limit for StopTaskRequest.reason; both functions have always cut it to 255
# characters; whether ECS refuses or cuts a longer one we have not verified.
STOP_REASON_MAX_CHARS = 255
# Fargate's RunTask rate per account and Region: 20 calls a second, burst and sustained (Amazon ECS
# Developer Guide, "AWS Fargate throttling quotas"; the ECS API's own bucket for RunTask is 100 at
# once, then 40 a second). A durable function's branches share one Pace per execution environment.
RUN_TASK_PER_SECOND, RUN_TASK_BURST = 20.0, 20
# DescribeTasksRequest.tasks: "A list of up to 100 task IDs or full ARN entries" (botocore's ECS model).
DESCRIBE_TASKS_MAX = 100


@dataclass
class Pace:
    """At most `burst` calls at once, then `per_second` a second, for every thread sharing it: each
    caller takes its turn and sleeps until it comes.

    So a fan-out starts its tasks at the rate ECS grants, instead of asking past it: a throttled
    start fails its step attempt, and each attempt is a durable operation (an execution has 3,000).
    Throttling by other workloads of the account still happens; the step's retry handles it.
    botocore's adaptive retry mode was tried first: after the first throttles its rate limiter
    fell to a call or two a second and held a 1,000-task fan-out there.
    """

    per_second: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _tokens: float = field(init=False)
    _at: float = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._tokens, self._at = float(self.burst), self.clock()

    def wait(self) -> None:
        with self._lock:
            now = self.clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.per_second) - 1
            self._at = now
            behind = -self._tokens / self.per_second if self._tokens < 0 else 0.0
        if behind:
            self.sleep(behind)


@dataclass(frozen=True)
class TaskLaunch:
    """What RunTask needs besides the task's own overrides: fixed per deployment."""

    cluster_arn: str
    task_definition: str  # family (latest ACTIVE revision) or full ARN
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...] = ()
    assign_public_ip: str = "ENABLED"
    # The Fargate capacity provider the task runs on (FARGATE_SPOT or FARGATE), named in a capacity
    # provider strategy of its own: "Fargate Spot infrastructure is available for use but a capacity
    # provider strategy must be used", and then "the launchType parameter must be omitted" (botocore
    # ECS model, RunTaskRequest.launchType and .capacityProviderStrategy).
    capacity: CapacityProvider = CapacityProvider.FARGATE

    def capacity_provider_strategy(self) -> list[dict[str, Any]]:
        return [{"capacityProvider": self.capacity.value, "weight": 1}]

    def network_configuration(self) -> dict[str, Any]:
        network: dict[str, Any] = {"subnets": list(self.subnets), "assignPublicIp": self.assign_public_ip}
        if self.security_groups:  # none: ECS uses the VPC's default security group
            network["securityGroups"] = list(self.security_groups)
        return {"awsvpcConfiguration": network}


def _throttling_in_disguise(answer: ErrorAnswer) -> bool:
    """RunTask throttling reported under another code, with only the message to tell.

    Seen as "InvalidParameterException: Error retrieving subnet information for [subnet-...]: Rate
    exceeded (ErrorCode: Throttling)": ECS wraps EC2's throttling of its subnet lookup
    (dagster-io/dagster#33439).
    """
    text = answer.message.lower()
    return "rate exceeded" in text or "errorcode: throttling" in text


# RunTask's words for a task Fargate cannot place now, which a later attempt (or on-demand capacity
# after Spot's) can: "Capacity is unavailable at this time. Please try again later or in a different
# availability zone" (AWS re:Post, ecs-fargate-runtask-capacity), and the account's concurrent
# Fargate quota, counted apart for on-demand and Spot ("You've reached the limit on the number of
# tasks you can run concurrently", or of vCPUs). Looked for in failures[] and in an error's message
# alike: which form ECS uses for each with a capacity provider strategy we could not pin down.
_NO_CAPACITY_WORDS = ("capacity is unavailable", "reached the limit on the number of")


def _already_started(answer: ErrorAnswer, response: Mapping[str, Any]) -> str | None:
    """The task a retried RunTask already started, when ECS answers ConflictException: "The
    provided clientToken is already in use with a different RunTask request. The resourceIds are the
    existing task ARNs which are already associated with the clientToken" (botocore ECS model,
    ConflictException). Our token is derived from the attempt's callback id: any task it names is
    this attempt's, started by an earlier try of the same step whose request differed (another
    invocation's trace context, or a deploy in between)."""
    if answer.code != "ConflictException":
        return None
    ids = response.get("resourceIds")
    return str(ids[0]) if isinstance(ids, list) and ids else None


def _no_capacity(text: str) -> bool:
    return any(words in text.lower() for words in _NO_CAPACITY_WORDS)


@dataclass
class EcsGateway:
    ecs_client: Any
    run_task_pace: Pace = field(default_factory=lambda: Pace(RUN_TASK_PER_SECOND, RUN_TASK_BURST))

    def start(
        self,
        launch: TaskLaunch,
        *,
        started_by: str,
        client_token: str,
        overrides: dict[str, Any],
        tags: Mapping[str, str] | None = None,
    ) -> str | TaskFailed:
        """RunTask for one Fargate task: its ARN, or why it did not start (a typed TaskFailed).

        Raises AwsThrottled for throttling (a fan-out soon reaches Fargate's RunTask rate: 100 at
        once, then 20 a second per account and Region), AwsUnavailable for 5xx and network errors,
        to be asked again with the same clientToken, which makes ECS return the task it already
        started instead of a second.
        """
        try:
            check_overrides(overrides)
        except LimitExceeded as e:
            return TaskFailed(ErrorType.TASK_START_REJECTED, str(e), retryable=False)
        self.run_task_pace.wait()
        try:
            with transient_as_unavailable(
                "RunTask", throttling_apart=True, also_throttled=_throttling_in_disguise
            ):
                response = self.ecs_client.run_task(
                    cluster=launch.cluster_arn,
                    taskDefinition=launch.task_definition,
                    capacityProviderStrategy=launch.capacity_provider_strategy(),
                    count=1,
                    startedBy=started_by,
                    clientToken=client_token,
                    networkConfiguration=launch.network_configuration(),
                    overrides=overrides,
                    # Tagging on creation needs ecs:TagResource (ecs:CreateAction RunTask) besides
                    # ecs:RunTask (supported-iam-actions-tagging.html); ECS's own tags
                    # (aws:ecs:clusterName) let split cost allocation group tasks by cluster.
                    **({"tags": run_task_tags(tags), "enableECSManagedTags": True} if tags else {}),
                )
        except ClientError as e:  # what is left no retry can change: a bad parameter, access, a conflict
            answer = ErrorAnswer.of(e.response)
            started = _already_started(answer, e.response)
            if started is not None:
                return started
            if _no_capacity(answer.message):  # ... but capacity comes back, and Spot's apart
                return TaskFailed(
                    ErrorType.CAPACITY_UNAVAILABLE,
                    f"RunTask started no task ({answer.code}): {answer.message}",
                    retryable=True,
                )
            return TaskFailed(
                ErrorType.TASK_START_REJECTED,
                f"RunTask rejected the request ({answer.code}): {answer.message}",
                retryable=False,
            )
        if response.get("failures") or not response.get("tasks"):
            reasons = "; ".join(
                f"{f.get('reason', '?')}" + (f" ({f['detail']})" if f.get("detail") else "")
                for f in response.get("failures", [])
            )
            return TaskFailed(
                ErrorType.CAPACITY_UNAVAILABLE,
                f"RunTask started no task: {reasons or 'no reason given'}",
                retryable=True,
            )
        return str(response["tasks"][0]["taskArn"])

    def describe(self, cluster_arn: str, task_arn: str) -> dict[str, Any] | None:
        """The task as ECS sees it now; None if ECS no longer knows it (kept about an hour)."""
        with transient_as_unavailable("DescribeTasks"):
            answer = self.ecs_client.describe_tasks(cluster=cluster_arn, tasks=[task_arn])
        tasks = answer.get("tasks") or []
        return tasks[0] if tasks else None

    def describe_many(self, cluster_arn: str, tasks: list[str]) -> list[dict[str, Any]]:
        """The tasks ECS still knows among `tasks` (IDs or ARNs), in ONE DescribeTasks call: it takes
        "up to 100 task IDs or full ARN entries" (botocore's ECS model, DescribeTasksRequest.tasks)."""
        if not 1 <= len(tasks) <= DESCRIBE_TASKS_MAX:
            raise ValueError(f"DescribeTasks takes 1 to {DESCRIBE_TASKS_MAX} tasks, got {len(tasks)}")
        with transient_as_unavailable("DescribeTasks"):
            answer = self.ecs_client.describe_tasks(cluster=cluster_arn, tasks=tasks)
        return list(answer.get("tasks") or [])

    def running(self, cluster_arn: str, started_by: str) -> list[str]:
        """ARNs of the tasks with exactly this startedBy that ECS has not stopped yet."""
        # startedBy alone: botocore's ECS model, ListTasksRequest.startedBy, "When you specify
        # startedBy as the filter, it must be the only filter that you use" (ECS answers
        # InvalidParameterException otherwise). desiredStatus defaults to RUNNING (ListTasksRequest.
        # desiredStatus), which is what we want anyway.
        with transient_as_unavailable("ListTasks"):
            pages = self.ecs_client.get_paginator("list_tasks").paginate(
                cluster=cluster_arn, startedBy=started_by
            )
            return [arn for page in pages for arn in page.get("taskArns", [])]

    def stop(self, cluster_arn: str, task_arn: str, reason: str) -> bool:
        """StopTask; False if ECS no longer knows the task."""
        try:
            with transient_as_unavailable("StopTask"):
                self.ecs_client.stop_task(
                    cluster=cluster_arn, task=task_arn, reason=reason[:STOP_REASON_MAX_CHARS]
                )
        except ClientError as e:
            if ErrorAnswer.of(e.response).code in UNKNOWN_TASK_CODES:
                return False
            raise
        return True
