"""`run_task`: run one ECS task from a durable function and wait for it, at no compute cost.

Per attempt: create a callback, start the task in a step (RunTask, idempotent through a clientToken
derived from the callback id), suspend until the relay completes the callback when the task stops;
retry retryable outcomes after a durable backoff; after a callback timeout, reconcile with
DescribeTasks (its STOPPED event may have been lost) and stop a task still running.

Replay rule: everything outside a step runs again on every replay, so only pure code lives here;
AWS calls, clocks and randomness happen inside the `@durable_step` functions (the backoff's jitter
is derived from the execution ARN and the task's name, see `backoff.py`). The AWS calls go through
the `Gateways` run_task is handed, and only the steps use them.

The history names every operation with the task's name and its attempt
(`ecs_contract.documents.Operation`): "prepare: task-completion #1", "prepare: start-task #1",
"prepare: reconcile-task #1" (only after a callback timeout), "prepare: backoff #1", ... A task
named DEFAULT_TASK_NAME ("task", the shipped orchestrator's) has the bare names: "start-task #1". The
steps checkpoint the contract's documents (`StartTaskResult`, `ReconcileResult`) and a success
returns a `TaskResult` (the contract's `ExecutionResult`).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from aws_durable_execution_sdk_python import (
    CallbackExternalError,
    CallbackTimeoutError,
    DurableContext,
    StepContext,
    StepError,
    durable_step,
)
from aws_durable_execution_sdk_python.config import CallbackConfig, Duration, JitterStrategy, StepConfig
from aws_durable_execution_sdk_python.context import Callback
from aws_durable_execution_sdk_python.exceptions import TimedSuspendExecution
from aws_durable_execution_sdk_python.lambda_service import CallbackTimeoutType
from aws_durable_execution_sdk_python.retries import (
    LinearRetryStrategyConfig,
    RetryStrategyConfig,
    create_linear_retry_strategy,
    create_retry_strategy,
)
from aws_durable_execution_sdk_python.serdes import JsonSerDes
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from aws_adapters.clients import ClientOnFirstUse
from aws_adapters.ecs import EcsGateway
from aws_adapters.errors import AWS_UNAVAILABLE_TYPE, AwsThrottled, AwsUnavailable, apart_when_throttled
from aws_adapters.logs import LogGateway, failure_with_log, read_tail
from aws_adapters.s3 import ResultGateway
from durable_ecs import ecs_tasks
from durable_ecs.attempts import AttemptPlan, TaskSize, exit_rule, first_plan, next_attempt
from durable_ecs.backoff import backoff_seconds
from durable_ecs.checkpoints import DocumentSerDes
from durable_ecs.errors import InvalidInput, TaskError, error_for
from durable_ecs.settings import EcsSettings
from ecs_contract import cost
from ecs_contract.completion import ResultAccessDenied, ResultReader, success_completion
from ecs_contract.decide import decide
from ecs_contract.documents import (
    DEFAULT_TASK_NAME,
    CallbackSuccess,
    CompletedBy,
    ExecutionResult,
    Operation,
    ReconcileResult,
    StartTaskResult,
    TaskState,
)
from ecs_contract.logs import NO_LOGS, LogReader, worker_log
from ecs_contract.names import (
    CALLBACK_ID_MAX,
    START_CALLBACK_ID_ENV,
    TASK_ATTEMPT_ENV,
    TASK_INDEX_ENV,
    redact,
    started_by,
)
from ecs_contract.outcome import ErrorType, Ignored, TaskFailed
from ecs_contract.overrides import InvalidOverrides, TaskOverrides
from ecs_contract.progress import last_progress
from ecs_contract.tags import InvalidTags, check_tags, task_tags
from ecs_contract.task import RUNNING_OR_LATER, parse_task
from ecs_contract.trace import LONGEST_ENV as TRACE_ENV_AT_MOST
from ecs_contract.trace import XRAY_ENV, TraceContext
from ecs_contract.usage import CapacityProvider, TaskUsage

# Only transient AWS errors are worth asking again inside a step: the adapters raise them as
# AwsUnavailable (by error code and HTTP status), and nothing else is retried. RunTask is
# idempotent through its clientToken, DescribeTasks and StopTask by nature. Explicit:
# StepConfig(retry_strategy=None) would silently mean the SDK default (6 attempts on any error).
# RunTask's throttling (AwsThrottled) is normal at fan-out scale (Fargate RunTask: 100 at once,
# then 20 a second per account and Region, local/ecs_rules.py) and never fails an execution: it
# is asked again (same clientToken) with full jitter (AWS Architecture Blog, "Exponential Backoff
# And Jitter") over a ceiling growing 1 s a retry up to 20 s, for 31,622,401 attempts. The SDK
# waits at least 1 s between two (step.py, retry_handler): that is 366 days of waits at the least,
# the longest ExecutionTimeout (Lambda API, DurableConfig), so the execution's own timeout
# (template: ExecutionTimeout) always ends it first. Linear, not the SDK's exponential strategy:
# that one computes backoff_rate ** (attempt - 1) as a float, which overflows at attempt 1,025.
# The jitter is random.random() (the SDK's JitterStrategy) and replay-safe: the SDK calls the
# strategy only when an attempt fails, checkpoints the delay it chose (NextAttemptDelaySeconds),
# and a replay reads the checkpointed time of the next attempt (step.py, check_result_status).
# Any other transient error (DescribeTasks' or StopTask's throttling too): 4 attempts in all, then
# the attempt ends (EcsUnavailable) as before.
# Plain JSON keeps checkpoints small and the history readable (the default serdes tags every
# value with its type).
AWS_STEP_CONFIG = StepConfig(
    serdes=JsonSerDes(),
    retry_strategy=apart_when_throttled(
        throttled=create_linear_retry_strategy(
            LinearRetryStrategyConfig(
                max_attempts=31_622_401,
                initial_delay=Duration.from_seconds(1),
                increment=Duration.from_seconds(1),
                max_delay=Duration.from_seconds(20),
                jitter_strategy=JitterStrategy.FULL,
                retryable_error_types=[AwsThrottled],
            )
        ),
        other=create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=4,
                initial_delay=Duration.from_seconds(2),
                max_delay=Duration.from_seconds(30),
                retryable_error_types=[AwsUnavailable],
            )
        ),
    ),
)
START_STEP_CONFIG = replace(AWS_STEP_CONFIG, serdes=DocumentSerDes(StartTaskResult.from_dict))
RECONCILE_STEP_CONFIG = replace(AWS_STEP_CONFIG, serdes=DocumentSerDes(ReconcileResult.from_dict))

# Powertools' Metrics instances share one metric set: the handler's `@metrics.log_metrics` (its
# namespace and service) flushes what the steps add here. Named in code like the orchestrator's
# (template.yaml's POWERTOOLS_METRICS_NAMESPACE wins): a flush by an instance without a namespace
# (Powertools flushes itself at 100 metrics) fails with SchemaValidationError, which would fail
# the invocation of a user whose handler has no `log_metrics`.
metrics = Metrics(namespace=os.getenv("POWERTOOLS_METRICS_NAMESPACE", "DurableEcsTasks"))

# An operation name is at most 256 printable ASCII characters (botocore lambda model, shape
# OperationName: min 1, max 256, pattern [\x20-\x7E]+); the task's name leaves room for
# ": stop-timed-out-task #<attempt>".
MAX_NAME_CHARS = 200

TaskResult = ExecutionResult
"""What a task that succeeded returns: its completion (taskArn, exit code, the worker's result
object, timings), how it came (the relay's event or a reconcile), after how many attempts, and the
estimated cost of each attempt (`ecs_contract.cost`)."""


@dataclass(frozen=True)
class TaskRequest:
    """What one task runs: the job, handed to the worker as JSON in its environment, and the job's
    overrides of its task (size, command, environment, an allow-listed task definition), which
    run_task checks before any step (a refusal is InvalidInput, and no task starts)."""

    job: Mapping[str, Any]
    overrides: TaskOverrides | None = None
    # The task's own tags, added to the ones every task gets (ecs_contract.tags: its execution,
    # name and attempt); checked at the door.
    tags: Mapping[str, str] | None = None

    def job_json(self) -> str:
        return json.dumps(self.job, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class Gateways:
    """The AWS the steps call: `aws_gateways()` unless handed in (tests hand in their own)."""

    tasks: EcsGateway
    results: ResultReader
    # The worker's log, read once by a reconcile that finds a failure, and when a task hung (its
    # last progress line).
    logs: LogReader = NO_LOGS


@cache
def aws_gateways() -> Gateways:
    """Built once per execution environment (not at import); each client on its first call, inside a
    step: an invocation that only replays builds none."""
    return Gateways(
        tasks=EcsGateway(ClientOnFirstUse("ecs")),
        results=ResultGateway(ClientOnFirstUse("s3")),
        logs=LogGateway(ClientOnFirstUse("logs")),
    )


@durable_step
def start_task(
    step: StepContext,
    tasks: EcsGateway,
    config: EcsSettings,
    callback_id: str,
    job_json: str,
    execution_arn: str,
    overrides: TaskOverrides | None = None,
    task_env: dict[str, str] | None = None,
    capacity: CapacityProvider = CapacityProvider.FARGATE,
    tags: dict[str, str] | None = None,
) -> StartTaskResult:
    # The invocation's trace, read here (a step: the environment is I/O); if a retry of this step
    # runs in another invocation with another trace, RunTask's ConflictException hands back the
    # task the first one started (aws_adapters.ecs).
    trace = TraceContext.of_invocation(os.environ.get(XRAY_ENV), execution_arn, callback_id)
    start = ecs_tasks.run_task(
        tasks,
        config,
        callback_id=callback_id,
        job_json=job_json,
        started_by=started_by(config.started_by_marker, execution_arn),
        overrides=overrides or ecs_tasks.NO_OVERRIDES,
        task_env={**(task_env or {}), **trace.to_env()},
        capacity=capacity,
        tags=tags,
    )
    if not isinstance(start.outcome, TaskFailed):
        metrics.add_metric(name="TasksStarted", unit=MetricUnit.Count, value=1)
        if capacity is CapacityProvider.FARGATE_SPOT:
            metrics.add_metric(name="TasksStartedOnSpot", unit=MetricUnit.Count, value=1)
        step.logger.info(
            "task started",
            extra={
                "task_arn": start.outcome,
                "callback": redact(callback_id),
                "capacity": capacity.value,
                "trace_id": trace.xray_trace_id,
            },
        )
    return start


@durable_step
def reconcile_task(
    step: StepContext, gateways: Gateways, config: EcsSettings, task_arn: str, count_cost: bool = True
) -> ReconcileResult:
    """After a callback timeout: what became of the task? Its STOPPED event may have been lost.

    Running, unknown (ECS no longer knows it), or stopped with the same completion the relay
    would have sent: a TaskFailed or the CallbackSuccess.
    """
    described = gateways.tasks.describe(config.cluster_arn, task_arn)
    if described is None:
        step.logger.warning("task unknown to ECS at reconcile", extra={"task_arn": task_arn})
        return ReconcileResult.unknown()
    task = parse_task(described)
    outcome = decide(task)
    if isinstance(outcome, Ignored):
        return ReconcileResult.running(task.last_status)
    metrics.add_metric(name="CompletionsReconciled", unit=MetricUnit.Count, value=1)
    if count_cost:  # once: the relay counts only the completions it delivers, and this one timed out
        spent = cost.estimate(task.usage, cost.RECONCILED_ATTEMPT)
        metrics.add_metric(name=cost.TASK_COST_METRIC, unit=MetricUnit.NoUnit, value=spent.total_usd)
    step.logger.warning("completion event missing; task reconciled", extra={"task_arn": task_arn})
    if isinstance(outcome, TaskFailed):
        # Its last log lines, as the relay would have sent them: one GetLogEvents, in this step; a
        # failed read is logged and the failure goes without them (never a retry of the step).
        failure, tail = failure_with_log(
            outcome, task, config.worker_log_group, config.log_tail_lines, gateways.logs
        )
        if tail.unread:
            step.logger.warning("log tail not read", extra={"task_arn": task_arn, "reason": tail.unread})
        return ReconcileResult.stopped(failure)
    log = worker_log(config.worker_log_group, task_arn)
    try:  # throttling (SlowDown), 5xx: raised as AwsUnavailable by the reader, asked again
        completion = success_completion(outcome, task, gateways.results, config.results_bucket, log)
    except ResultAccessDenied as e:
        # A permission to fix, which no retry of this step or new task can: never a success
        # without the result, so the execution fails with a typed error naming what to grant.
        step.logger.error("result object unreadable", extra={"task_arn": task_arn, "code": e.code})
        unreadable = TaskFailed(ErrorType.RESULT_UNREADABLE, str(e), task_arn=task_arn, exit_code=0)
        return ReconcileResult.stopped(unreadable)
    return ReconcileResult.stopped(completion.document)


# How many of a hung task's last log lines are searched for its last progress line: one
# GetLogEvents (a page holds up to 10,000 events or 1 MB), never a poll. A job that printed more than
# this many lines after its last progress line shows as "no progress line in its last N lines".
HUNG_TAIL_LINES = 1_000


@durable_step
def stop_hung_task(
    step: StepContext, gateways: Gateways, config: EcsSettings, task_arn: str
) -> ReconcileResult:
    """A task whose worker reported no progress within the liveness timeout: read its log once for
    the last progress line (what it said, and when), stop the task, and say so in a TaskHung.

    Retryable: a hang is often of the moment (a stuck connection, a lock, a mount), found minutes in
    rather than at the task timeout, so a new task costs little; a job that hangs every time fails
    after MaxAttempts short attempts (and the retry rules can say otherwise)."""
    silent = f"no progress for {config.liveness_timeout_seconds} s"
    seen = _last_progress_said(step, gateways, config, task_arn)
    stopped = gateways.tasks.stop(config.cluster_arn, task_arn, f"task hung: {silent}")
    fate = "it was stopped" if stopped else "ECS no longer knows it"
    metrics.add_metric(name="TasksHung", unit=MetricUnit.Count, value=1)
    step.logger.warning("task hung", extra={"task_arn": task_arn, "last_progress": seen})
    hung = TaskFailed(
        ErrorType.TASK_HUNG,
        f"task hung: {silent}; {seen}; {fate} ({task_arn})",
        retryable=True,
        task_arn=task_arn,
    )
    return ReconcileResult.stopped(hung)


def _last_progress_said(step: StepContext, gateways: Gateways, config: EcsSettings, task_arn: str) -> str:
    """ "last progress 42% chunk 42 of 100 at 2026-12-01T18:50:00Z", or why there is none. Best
    effort, as every log read (aws_adapters.logs.read_tail): the task is stopped whatever it says."""
    tail = read_tail(gateways.logs, worker_log(config.worker_log_group, task_arn), HUNG_TAIL_LINES)
    if tail.unread is not None:
        error = tail.unread.partition(":")[0]
        step.logger.warning("worker log unread", extra={"task_arn": task_arn, "error": error})
        return f"its log could not be read ({error})"
    progress = last_progress(tail.lines)
    if progress is None:
        return f"no progress line in its last {HUNG_TAIL_LINES} log lines"
    return f"last progress {progress.describe()}" + (f" at {progress.at}" if progress.at else "")


@durable_step
def stop_task(step: StepContext, tasks: EcsGateway, config: EcsSettings, task_arn: str, reason: str) -> bool:
    stopped = tasks.stop(config.cluster_arn, task_arn, reason)
    step.logger.info(
        "task stopped" if stopped else "task already gone", extra={"task_arn": task_arn, "reason": reason}
    )
    return stopped


def run_task(
    ctx: DurableContext,
    name: str,
    request: TaskRequest,
    settings: EcsSettings | None = None,
    gateways: Gateways | None = None,
    *,
    index: int | None = None,
) -> TaskResult:
    """Run one ECS task and wait for it: its TaskResult, or a `durable_ecs.errors.TaskError`.

    `name` names the task's operations in the history ("prepare: start-task #1"): unique among the
    tasks of one durable context. `settings` default to `EcsSettings.from_env()`, `gateways` to
    boto3's (`aws_gateways()`). Call it from the durable handler or a child context, never inside
    a step. The task's container reads its attempt in TASK_ATTEMPT and, given an `index` (a fan-out
    item's, `run_tasks`), that index in TASK_INDEX (`ecs_contract.names`).
    """
    _check_name(name)
    settings = EcsSettings.from_env() if settings is None else settings
    _check_overrides(request, settings, index)
    gateways = aws_gateways() if gateways is None else gateways
    execution_arn = ctx.execution_context.durable_execution_arn
    task = _Task(ctx, name, settings, gateways, execution_arn, index)
    plan = first_plan(settings)
    usages: list[TaskUsage | None] = []
    for attempt in range(1, settings.max_attempts + 1):
        outcome = task.attempt(request, attempt, plan)
        usages.append(outcome.usage if isinstance(outcome, TaskFailed) else outcome.completion.usage)
        if not isinstance(outcome, TaskFailed):
            return replace(outcome, costs=task.costs(usages))
        retry = next_attempt(outcome, plan, settings)
        if retry is None or attempt == settings.max_attempts:
            raise _final_error(outcome, attempt, settings.max_attempts, exit_rule(outcome, settings))
        if retry.backoff:
            delay = backoff_seconds(
                _jitter_key(execution_arn, name),
                attempt,
                settings.retry_delay_seconds,
                settings.retry_max_delay_seconds,
            )
            task.spend(attempt, cost.BACKOFF)
            ctx.wait(Duration.from_seconds(delay), name=Operation.BACKOFF.named(attempt, name))
        plan = retry.plan
    raise AssertionError("unreachable: the last attempt returns or raises")


def _check_name(name: str) -> None:
    if not (0 < len(name) <= MAX_NAME_CHARS and name.isascii() and name.isprintable()):
        raise ValueError(f"a task's name is 1 to {MAX_NAME_CHARS} printable ASCII characters, got {name!r}")


def _check_overrides(request: TaskRequest, settings: EcsSettings, index: int | None) -> None:
    """At the door, before any step: a refused override or tag fails the call and starts no task.
    With the size a later attempt may get after an OutOfMemory, so that one cannot be refused either."""
    try:
        check_tags(request.tags or {})
    except InvalidTags as e:
        raise InvalidInput(f"invalid tags: {e}") from e
    grows = settings.memory_retry.enabled and settings.max_attempts > 1
    overrides = _sized(request.overrides, settings.memory_retry.largest_size() if grows else None)
    if overrides is None:
        return
    last_attempt = _task_env(settings.max_attempts, index)
    if settings.start_timeout_seconds:  # the longest start callback id the task may be given
        last_attempt[START_CALLBACK_ID_ENV] = "A" * CALLBACK_ID_MAX
    last_attempt.update(TRACE_ENV_AT_MOST)
    try:
        ecs_tasks.check_overrides_at_the_door(settings, overrides, request.job_json(), last_attempt)
    except InvalidOverrides as e:
        raise InvalidInput(f"invalid overrides: {e}") from e


def _task_env(attempt: int, index: int | None) -> dict[str, str]:
    """What the task knows of itself, as AWS Batch tells its jobs (AWS_BATCH_JOB_ATTEMPT, ...)."""
    env = {TASK_ATTEMPT_ENV: str(attempt)}
    return env if index is None else {**env, TASK_INDEX_ENV: str(index)}


def _jitter_key(execution_arn: str, name: str) -> str:
    """Tasks of one execution back off apart; the default task keeps the orchestrator's waits."""
    return execution_arn if name == DEFAULT_TASK_NAME else f"{execution_arn}#{name}"


# While an invocation runs on, how often a fan-out item that waits for its task looks again.
FAN_OUT_RECHECK_SECONDS = 1


@dataclass(frozen=True)
class _Task:
    """One run_task call: what each of its attempts needs."""

    ctx: DurableContext
    name: str
    config: EcsSettings
    gateways: Gateways
    execution_arn: str
    index: int | None = None
    # What each attempt spent, counted as its operations are called (rebuilt on every replay, as
    # the history path is walked again): `ecs_contract.cost` prices it in the success document.
    spent: dict[int, cost.Spent] = field(default_factory=dict)

    def task_env(self, attempt: int) -> dict[str, str]:
        return _task_env(attempt, self.index)

    def spend(self, attempt: int, spent: cost.Spent) -> None:
        self.spent[attempt] = self.spent.get(attempt, cost.Spent()) + spent

    def costs(self, usages: list[TaskUsage | None]) -> tuple[cost.AttemptCost, ...]:
        """Every attempt's estimate, in order, from its task's usage and what it spent."""
        return tuple(
            cost.estimate(usage, self.spent.get(attempt, cost.Spent()))
            for attempt, usage in enumerate(usages, start=1)
        )

    def attempt(self, request: TaskRequest, attempt: int, plan: AttemptPlan) -> TaskResult | TaskFailed:
        """One task, run as `plan` says: its outcome (a TaskFailed) or its success."""
        ctx, config = self.ctx, self.config
        self.spend(attempt, cost.ATTEMPT)
        callback = ctx.create_callback(
            name=Operation.TASK_COMPLETION.named(attempt, self.name),
            # With a start timeout the run keeps its whole timeout however long the start took
            # (at most the start timeout: a task not started by then is stopped).
            config=CallbackConfig(
                timeout=Duration.from_seconds(config.task_timeout_seconds + config.start_timeout_seconds),
                # Liveness: the relay heartbeats this callback on each progress line of the worker
                # (completion_relay.liveness); silent this long, it times out (a zero Duration: never).
                heartbeat_timeout=Duration.from_seconds(config.liveness_timeout_seconds),
                serdes=JsonSerDes(),
            ),
        )
        started_callback = (
            ctx.create_callback(
                name=Operation.TASK_STARTED.named(attempt, self.name),
                config=CallbackConfig(
                    timeout=Duration.from_seconds(config.start_timeout_seconds), serdes=JsonSerDes()
                ),
            )
            if config.start_timeout_seconds
            else None
        )
        task_env = self.task_env(attempt)
        if started_callback is not None:
            task_env[START_CALLBACK_ID_ENV] = started_callback.callback_id
            self.spend(attempt, cost.START_CALLBACK)
        try:
            started = ctx.step(
                start_task(
                    self.gateways.tasks,
                    config,
                    callback.callback_id,
                    request.job_json(),
                    self.execution_arn,
                    _sized(request.overrides, plan.size),
                    task_env,
                    plan.capacity,
                    task_tags(self.execution_arn, self.name, attempt, request.tags or {}),
                ),
                name=Operation.START_TASK.named(attempt, self.name),
                config=START_STEP_CONFIG,
            )
        except StepError as e:
            if e.error_type != AWS_UNAVAILABLE_TYPE:
                raise
            return TaskFailed(ErrorType.ECS_UNAVAILABLE, f"RunTask kept failing: {e.message}", retryable=True)
        if isinstance(started.outcome, TaskFailed):
            return started.outcome
        task_arn = started.outcome
        self.spend(attempt, cost.TASK_STOPPED)

        if started_callback is not None:
            not_started = self.wait_for_start(started_callback, task_arn, attempt)
            if not_started is not None:
                return not_started
        if self.index is not None:
            _wait_in_the_map(callback)
        try:
            completion = callback.result()  # suspends here, at no compute cost, until the relay answers
        except CallbackTimeoutError:
            return self.after_timeout(task_arn, attempt, hung=_timed_out_on_heartbeat(callback))
        except CallbackExternalError as e:
            return TaskFailed.from_callback_error(e.message, e.data)
        return _succeeded(completion, task_arn, CompletedBy.EVENT, attempt)

    def wait_for_start(
        self, started: Callback, task_arn: str, attempt: int
    ) -> TaskResult | TaskFailed | None:
        """Until the relay says the task reached RUNNING (or stopped before): None to go on waiting for
        its completion; else the attempt's end, when the start timeout passed first."""
        if self.index is not None:
            _wait_in_the_map(started)
        try:
            started.result()  # suspends until the task's RUNNING (or STOPPED) event
            self.spend(attempt, cost.TASK_RUNNING)
            return None
        except CallbackTimeoutError:
            self.spend(attempt, cost.START_TIMED_OUT)
            return self.after_start_timeout(task_arn, attempt)
        except CallbackExternalError:  # not the relay's (it only succeeds it): the completion decides
            return None

    def after_start_timeout(self, task_arn: str, attempt: int) -> TaskResult | TaskFailed | None:
        """Not started within the start timeout, by its events: what does ECS say? Started (the
        RUNNING event was lost or late): go on waiting. Stopped: its outcome. Still starting: stop
        it, a retryable TaskFailedToStart (a new task may find capacity where this one did not)."""
        ctx, config = self.ctx, self.config
        message = f"task did not start within {config.start_timeout_seconds} s"
        seen = self.reconcile(Operation.RECONCILE_START, task_arn, attempt, message)
        if not isinstance(seen, ReconcileResult):
            return seen
        if seen.state is TaskState.RUNNING and seen.last_status in RUNNING_OR_LATER:
            return None
        if seen.state is TaskState.UNKNOWN:
            return TaskFailed(
                ErrorType.TASK_FAILED_TO_START,
                f"{message}; ECS no longer knows it ({task_arn})",
                retryable=True,
                task_arn=task_arn,
            )
        self.spend(attempt, cost.STEP)
        try:
            ctx.step(
                stop_task(self.gateways.tasks, config, task_arn, message),
                name=Operation.STOP_UNSTARTED_TASK.named(attempt, self.name),
                config=AWS_STEP_CONFIG,
            )
        except StepError as e:
            return _aws_kept_failing(e, message, task_arn)
        return TaskFailed(
            ErrorType.TASK_FAILED_TO_START,
            f"{message} (still {seen.last_status}); it was stopped ({task_arn})",
            retryable=True,
            task_arn=task_arn,
        )

    def reconcile(
        self, operation: Operation, task_arn: str, attempt: int, message: str
    ) -> ReconcileResult | TaskResult | TaskFailed:
        """What ECS says of the task (a step): the task's outcome if it stopped, else what it found."""
        self.spend(attempt, cost.STEP)
        # The task's cost is counted here only when its completion callback timed out: else the
        # callback is still open, and the relay counts the task when its STOPPED event comes.
        count_cost = operation is Operation.RECONCILE_TASK
        try:
            seen = self.ctx.step(
                reconcile_task(self.gateways, self.config, task_arn, count_cost),
                name=operation.named(attempt, self.name),
                config=RECONCILE_STEP_CONFIG,
            )
        except StepError as e:
            return _aws_kept_failing(e, message, task_arn)
        if isinstance(seen.outcome, TaskFailed):
            return seen.outcome
        if isinstance(seen.outcome, CallbackSuccess):
            return ExecutionResult(seen.outcome, CompletedBy.RECONCILE, attempt)
        return seen

    def after_timeout(self, task_arn: str, attempt: int, hung: bool = False) -> TaskResult | TaskFailed:
        """No completion within the task timeout, or (`hung`) no heartbeat within the liveness
        timeout: take the task's own word if it already stopped."""
        ctx, config = self.ctx, self.config
        message = (
            f"task reported no progress for {config.liveness_timeout_seconds} s"
            if hung
            else f"task did not finish within {config.task_timeout_seconds} s"
        )
        seen = self.reconcile(Operation.RECONCILE_TASK, task_arn, attempt, message)
        if not isinstance(seen, ReconcileResult):
            return seen
        error_type = ErrorType.TASK_HUNG if hung else ErrorType.TASK_TIMED_OUT
        if seen.state is TaskState.UNKNOWN:
            return TaskFailed(
                error_type,
                f"{message}; ECS no longer knows it ({task_arn})",
                retryable=hung,
                task_arn=task_arn,
            )
        self.spend(attempt, cost.STEP)  # the stop step, either one
        if hung:  # still running before its run timeout, silent: stopped as hung
            return self.stop_hung(task_arn, attempt, message)
        try:
            stopped = ctx.step(
                stop_task(self.gateways.tasks, config, task_arn, message),
                name=Operation.STOP_TIMED_OUT_TASK.named(attempt, self.name),
                config=AWS_STEP_CONFIG,
            )
        except StepError as e:
            return _aws_kept_failing(e, message, task_arn)
        fate = "it was stopped" if stopped else "ECS no longer knows it"
        return TaskFailed(ErrorType.TASK_TIMED_OUT, f"{message}; {fate} ({task_arn})", task_arn=task_arn)

    def stop_hung(self, task_arn: str, attempt: int, message: str) -> TaskFailed:
        try:
            stopped = self.ctx.step(
                stop_hung_task(self.gateways, self.config, task_arn),
                name=Operation.STOP_HUNG_TASK.named(attempt, self.name),
                config=RECONCILE_STEP_CONFIG,
            )
        except StepError as e:
            return _aws_kept_failing(e, message, task_arn)
        assert isinstance(stopped.outcome, TaskFailed)  # the step's only answer
        return stopped.outcome


def _timed_out_on_heartbeat(callback: Callback) -> bool:
    """Did the callback time out for want of a heartbeat, not at its timeout? The service records
    which in the callback's error type, "Callback.Heartbeat" or "Callback.Timeout" (the SDK's
    CallbackTimeoutType; its CallbackTimeoutError keeps only the message). Read from the checkpoint,
    as Callback.result() reads it: replay-safe."""
    error = callback.state.get_checkpoint_result(callback.operation_id).error
    return error is not None and error.type == CallbackTimeoutType.HEARTBEAT.value


def _sized(overrides: TaskOverrides | None, size: TaskSize | None) -> TaskOverrides | None:
    """The request's overrides, at the plan's size when it chose one (after an OutOfMemory)."""
    if size is None:
        return overrides
    return replace(overrides or TaskOverrides(), cpu=size.cpu, memory=size.memory)


def _wait_in_the_map(callback: Callback) -> None:
    """A fan-out's item (run_tasks) waits for its task as a timed suspension, not callback.result()'s.

    The SDK's map resumes a branch suspended on a callback only in a later invocation (SDK 3.0.0;
    tests/component/test_sdk_map_completions.py): a task that finished while the invocation ran on
    (other items still starting) kept its slot until the execution's next wake-up. A branch
    suspended until a time is re-run by the map within the invocation, after a refresh of the
    execution's state: it finds its callback completed and frees its slot. No operation is added
    (its callback and its start step replay); where nothing else runs, the map suspends as before.
    Reads the callback's checkpointed state, the SDK's own Callback.result() test, without raising.
    """
    if not callback.state.get_checkpoint_result(callback.operation_id).is_terminal():
        # On a whole second, so that every waiting item shares one wake-up: the map resumes each
        # distinct time after its own refresh of the state, one after another (a checkpoint call
        # each), and 500 items a second apart from each other held it behind them. The time says
        # only when to look again in this invocation, never what the execution does: replay-safe.
        again = math.floor(time.time()) + FAN_OUT_RECHECK_SECONDS
        raise TimedSuspendExecution("waiting for the task to finish", scheduled_timestamp=again)


def _aws_kept_failing(error: StepError, message: str, task_arn: str) -> TaskFailed:
    """A step after the timeout failed past its retries: EcsUnavailable if AWS was the cause.

    Not retryable: the task may still run, and a new attempt would start a second one. The
    execution fails, and the relay's cancellation rule stops what it left running.
    """
    if error.error_type != AWS_UNAVAILABLE_TYPE:
        raise error  # a bug or a refusal (e.g. AccessDenied): shown as it is
    return TaskFailed(
        ErrorType.ECS_UNAVAILABLE,
        f"{message}; then AWS kept failing: {error.message} ({task_arn})",
        task_arn=task_arn,
    )


def _succeeded(
    completion: Any, task_arn: str, completed_by: CompletedBy, attempt: int
) -> ExecutionResult | TaskFailed:
    if not isinstance(completion, dict):
        return TaskFailed(ErrorType.UNKNOWN, f"unexpected completion payload: {completion!r}")
    return ExecutionResult(CallbackSuccess.from_dict(completion, task_arn), completed_by, attempt)


def _final_error(
    failure: TaskFailed, attempt: int, max_attempts: int, exit_rule: int | None = None
) -> TaskError:
    notes = [f"attempt {attempt} of {max_attempts}"] if attempt > 1 or failure.retryable else []
    if exit_rule is not None:  # the user's rule, not the outcome table, made it final: say which
        notes.append(f"retry rule {exit_rule}: EXIT")
    if notes:
        failure = replace(failure, message=f"{failure.message} ({'; '.join(notes)})")
    return error_for(failure, failure.details(attempt, max_attempts))
