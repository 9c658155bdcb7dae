"""The ECS task agent: each task started in moto runs the worker's real entrypoint as a process.

For each new task of the cluster it starts ``python -m worker.entrypoint`` (what the image's
ENTRYPOINT runs) with the task definition's environment plus the task's container overrides,
copies the worker's output into CloudWatch Logs (moto) as the awslogs driver would, and when the
process ends records the real exit code and timings on the task in moto, marks it STOPPED and
publishes the "ECS Task State Change" event, built from ``describe_tasks`` like ECS builds it.
A task stopped through the API (StopTask) gets SIGTERM, then SIGKILL after ``stop_timeout``.
Armed faults (``faults.py``) stop a task before it starts, or interrupt it as Fargate Spot does.
The ECS API rules moto does not enforce (``ecs_rules.py``) are put in front of moto by the agent.

Nothing is lost silently: a task whose launch fails stops as ECS stops it (TaskFailedToStart), and
an event that cannot be built or published is tried again until it goes out.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from moto.ecs.models import ecs_backends

from ecs_contract.demo_job import JOB_CHOICE_ENV, JobChoice
from ecs_contract.names import TASK_STATE_CHANGE
from ecs_contract.progress import PROGRESS_INTERVAL_ENV, parse_progress
from local.ecs_rules import EcsRules, install
from local.faults import Faults
from local.journal import Journal, iso
from local.seed import CREDENTIALS
from local.template import ROOT, TaskDefinition

WORKER_PATH = [ROOT / "worker", ROOT / "contract"]
ESSENTIAL_EXITED = "Essential container in task exited"
# Reasons as ECS words them (stoppedReason), for the faults that keep a task from starting.
START_FAILURES = {
    "never-start": "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
    "failed to resolve ref local/worker:missing: not found",
    "no-capacity": "Capacity is unavailable at this time. Please try again later or in a different "
    "availability zone",
}
SPOT_INTERRUPTED = "Your Spot Task was interrupted."
# The container's reason when the kernel's OOM killer ends it (SIGKILL: exit code 137), as ECS reports
# it (AmazonECS/latest/developerguide/stopped-task-error-codes.html, "OutOfMemoryError: Container
# killed due to memory usage"); the task itself stops as any whose essential container exited.
OOM_KILLED = "OutOfMemoryError: Container killed due to memory usage"
# Why a task the agent could not launch stopped (stopCode TaskFailedToStart), in the words Fargate
# uses in stoppedReason: the awslogs driver could not create the log stream ("ResourceInitializationError:
# failed to validate logger args: ...", as users report it), or the container could not be started.
LOG_STREAM_FAILED = (
    "ResourceInitializationError: failed to validate logger args: failed to create Cloudwatch log stream"
)
CANNOT_START = "CannotStartContainerError"
# How an event that could not be built or published is tried again: a capped backoff, for a while.
EMIT_FIRST_DELAY, EMIT_MAX_DELAY = 0.05, 1.0


class LaunchFailed(RuntimeError):
    """The task could not be started; the message is its stoppedReason."""


@dataclass
class RunningTask:
    arn: str
    process: subprocess.Popen[bytes]
    container: str
    log_stream: str
    started: float = field(default_factory=time.monotonic)
    stop_requested: bool = False
    interrupted: bool = False
    started_by: str | None = None
    hung: bool = False  # frozen by the fault "hang" (SIGSTOP)
    oom_killed: bool = False


class TaskAgent:
    def __init__(
        self,
        cluster_arn: str,
        task_definition: TaskDefinition,
        clients: Callable[[str], Any],
        publish: Callable[[dict[str, Any]], int],
        worker_env: dict[str, str],
        state_dir: Path,
        account: str,
        region: str,
        poll_interval: float = 0.05,
        faults: Faults | None = None,
        stop_timeout: float = 2.0,
        ecs_rules: EcsRules | None = None,
        emit_patience: float = 300.0,
        log_lines: Callable[[str, str, int, str], None] | None = None,
    ) -> None:
        self.cluster_arn, self.td = cluster_arn, task_definition
        self.ecs, self.logs = clients("ecs"), clients("logs")
        self.publish, self.worker_env, self.state_dir = publish, worker_env, state_dir
        self.account, self.region = account, region
        self.faults = faults or Faults()
        self.poll_interval, self.stop_timeout = poll_interval, stop_timeout
        self.ecs_rules = ecs_rules or EcsRules()
        self.emit_patience = emit_patience
        # Each line the awslogs stand-in writes, to the log group's subscription filters (subscriptions.py).
        self.log_lines = log_lines
        self.running: dict[str, RunningTask] = {}
        self.seen: set[str] = set()
        self.stuck: set[str] = set()  # tasks left in PROVISIONING by the fault stuck-provisioning
        self.journal = Journal(state_dir / "tasks.jsonl")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="task-agent", daemon=True)

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        self.install_stop_hook()
        self.thread.start()

    def install_stop_hook(self) -> None:
        """Make moto's ECS behave like ECS for the tasks this agent runs: StopTask, and the API
        rules moto does not enforce (``ecs_rules``)."""
        backend = ecs_backends[self.account][self.region]
        # moto's ECS backend is not thread-safe: DescribeTasks iterates a cluster's task table while
        # a concurrent RunTask adds to it ("dictionary changed size during iteration", a 500). With
        # a few hundred tasks at once that lost launches and STOPPED events. One lock for the table.
        table_lock = threading.RLock()
        for name in ("run_task", "describe_tasks", "list_tasks"):
            setattr(backend, name, _serialized(getattr(backend, name), table_lock))
        install(backend, self.ecs_rules, table_lock)
        moto_stop_task = backend.stop_task

        def stop_task(cluster_str: str, task_str: str, reason: str) -> Any:
            task: Any = moto_stop_task(cluster_str, task_str, reason)  # moto: STOPPED at once
            with self._lock:
                running = task.task_arn in self.running
                never_started = task.task_arn not in self.seen or task.task_arn in self.stuck
                self.seen.add(task.task_arn)
                self.stuck.discard(task.task_arn)
            if running:  # ECS keeps it going until its containers exit (SIGTERM, then SIGKILL)
                task.last_status = "DEACTIVATING"
            elif never_started:  # stopped before its worker was launched: ECS still reports it
                task.stopping_at = task.stopped_at = _utcnow()
                task.stop_code = "UserInitiated"
                task.containers[0].exitCode = None
                task.containers[0].last_status = "STOPPED"
                self._journal(task.task_arn, "STOPPED", exitCode=None, started=False)
                threading.Thread(target=self._emit, args=(task.task_arn,), daemon=True).start()
            return task

        backend.stop_task = stop_task  # type: ignore[method-assign]

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)
        for task in list(self.running.values()):
            task.process.kill()
            task.process.wait()

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self._scan()
            except Exception as e:  # noqa: BLE001 - keep the agent alive; the error goes to the log
                _log(f"{type(e).__name__}: {e}")

    def _scan(self) -> None:
        arns: list[str] = []
        for page in self.ecs.get_paginator("list_tasks").paginate(cluster=self.cluster_arn):
            arns += page["taskArns"]
        with self._lock:
            new = [arn for arn in arns if arn not in self.seen]
            self.seen.update(new)
        for arn in new:  # each on its own: one that cannot start must not keep the others from starting
            try:
                self._launch(arn)
            except Exception as e:  # noqa: BLE001 - any failure is this task's, and ends it as ECS would
                reason = str(e) if isinstance(e, LaunchFailed) else f"{CANNOT_START}: {type(e).__name__}: {e}"
                _log(f"task {arn}: could not start: {reason}")
                try:
                    self._fail_to_start(arn, reason)
                except Exception as gone:  # noqa: BLE001 - the task is gone from moto: nothing left to stop
                    _log(f"task {arn}: not stopped after its failed start: {type(gone).__name__}: {gone}")
        for task in list(self.running.values()):
            if not task.stop_requested and self._moto_task(task.arn).desired_status == "STOPPED":
                task.stop_requested = True
                threading.Thread(target=self._terminate, args=(task,), daemon=True).start()

    # -- one task ---------------------------------------------------------------------------
    def _moto_task(self, arn: str) -> Any:
        cluster = self.cluster_arn.rsplit("/", 1)[1]
        return ecs_backends[self.account][self.region].tasks[cluster][arn]

    def _launch(self, arn: str) -> None:
        described = self.ecs.describe_tasks(cluster=self.cluster_arn, tasks=[arn])["tasks"][0]
        container = self.td.containers[0]
        env = {**self.worker_env, **container.environment}
        for override in described.get("overrides", {}).get("containerOverrides", []):
            if override.get("name") == container.name:
                env.update({e["name"]: e["value"] for e in override.get("environment", [])})
        started_by = described.get("startedBy")  # names the task's execution, for the faults
        for kind, reason in START_FAILURES.items():
            if self.faults.fire(kind, started_by):
                self._fail_to_start(arn, reason, fault=kind)
                return
        if self.faults.fire("stuck-provisioning", started_by):
            self._leave_provisioning(arn)
            return
        task_id = arn.rsplit("/", 1)[1]
        workdir = self.state_dir / "tasks" / task_id
        workdir.mkdir(parents=True, exist_ok=True)
        now = _utcnow()
        moto_task = self._moto_task(arn)
        moto_task.created_at = moto_task.pull_started_at = moto_task.pull_stopped_at = now
        # Task.cpu/.memory: the size the task runs at, the overrides' else its task definition's
        # (moto leaves both out); what an outcome reports as the size that ran (ecs_contract.usage).
        overrides = described.get("overrides", {})
        moto_task.cpu = str(overrides.get("cpu") or self.td.cpu)
        moto_task.memory = str(overrides.get("memory") or self.td.memory)
        stream = f"{container.log_stream_prefix}/{container.name}/{task_id}"
        if container.log_group:  # the awslogs driver creates the stream before the container starts
            try:
                self.logs.create_log_stream(logGroupName=container.log_group, logStreamName=stream)
            except Exception as e:
                raise LaunchFailed(f"{LOG_STREAM_FAILED}: {e}") from e
        process = subprocess.Popen(
            [sys.executable, "-u", "-m", "worker.entrypoint"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=workdir,
        )
        task = RunningTask(arn, process, container.name, stream, started_by=started_by)
        try:
            moto_task.started_at = _utcnow()
            moto_task.last_status = "RUNNING"
            moto_task.containers[0].last_status = "RUNNING"
            moto_task.containers[0].exitCode = None  # moto says 0 from the start; ECS has none until exit
            with self._lock:
                self.running[arn] = task
            self._journal(arn, "RUNNING", pid=process.pid)
            self._emit(arn)
            threading.Thread(
                target=self._watch, args=(task,), name=f"task-{task_id[:8]}", daemon=True
            ).start()
        except Exception:
            # No watcher owns the worker yet: stop it, or it would run on with no task to show for it.
            with self._lock:
                self.running.pop(arn, None)
            process.kill()
            process.wait()
            raise
        self._fault_while_running(task, moto_task, started_by)

    def _fault_while_running(self, task: RunningTask, moto_task: Any, started_by: str | None) -> None:
        """The faults that end a task whose worker runs: a Spot interruption, an OOM kill."""
        if self.faults.fire("spot-interruption", started_by):
            task.interrupted = task.stop_requested = True  # Fargate reclaims it: SIGTERM, then SIGKILL
            moto_task.desired_status = "STOPPED"
            threading.Thread(target=self._terminate, args=(task,), daemon=True).start()
        elif self.faults.fire("oom-kill", started_by):
            task.oom_killed = True  # the kernel gives no warning: SIGKILL, nothing to catch
            task.process.kill()

    def _leave_provisioning(self, arn: str) -> None:
        """The task never gets its capacity: PROVISIONING until StopTask stops it (stop_task above)."""
        moto_task = self._moto_task(arn)
        moto_task.created_at = _utcnow()
        moto_task.last_status = "PROVISIONING"
        moto_task.containers[0].exitCode = None
        moto_task.containers[0].last_status = "PENDING"
        with self._lock:
            self.stuck.add(arn)
        self._journal(arn, "PROVISIONING", fault="stuck-provisioning")
        self._emit(arn)

    def _fail_to_start(self, arn: str, reason: str, fault: str | None = None) -> None:
        """The task stops before its container starts: no exit code, stopCode TaskFailedToStart."""
        moto_task = self._moto_task(arn)
        moto_task.created_at = moto_task.stopping_at = moto_task.stopped_at = _utcnow()
        moto_task.last_status = moto_task.desired_status = "STOPPED"
        moto_task.stop_code, moto_task.stopped_reason = "TaskFailedToStart", reason
        moto_task.containers[0].exitCode = None
        moto_task.containers[0].last_status = "STOPPED"
        self._journal(arn, "STOPPED", exitCode=None, started=False, **({"fault": fault} if fault else {}))
        self._emit(arn)

    def _watch(self, task: RunningTask) -> None:
        group = self.td.containers[0].log_group
        assert task.process.stdout is not None
        for raw in task.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if group:
                stamp = int(time.time() * 1000)
                try:
                    self.logs.put_log_events(
                        logGroupName=group,
                        logStreamName=task.log_stream,
                        logEvents=[{"timestamp": stamp, "message": line}],
                    )
                except Exception as e:  # noqa: BLE001 - a lost log line must not stop the watch
                    _log(f"task {task.arn}: a log line was lost: {type(e).__name__}: {e}")
                    continue
                if self.log_lines is not None:
                    self.log_lines(group, task.log_stream, stamp, line)
            if not task.hung and parse_progress(line) and self.faults.fire("hang", task.started_by):
                task.hung = True  # alive, silent, never exiting: until StopTask's SIGTERM (+ SIGCONT)
                task.process.send_signal(signal.SIGSTOP)
                self._journal(task.arn, "RUNNING", fault="hang")
        code = task.process.wait()
        exit_code = code if code >= 0 else 128 - code  # a signal shows as 128+n, as in a container
        moto_task = self._moto_task(task.arn)
        now = _utcnow()
        moto_task.stopping_at = moto_task.execution_stopped_at = moto_task.stopped_at = now
        if task.interrupted:
            moto_task.stop_code, moto_task.stopped_reason = "SpotInterruption", SPOT_INTERRUPTED
        elif task.stop_requested:
            moto_task.stop_code = "UserInitiated"  # moto kept StopTask's reason
        else:
            moto_task.stop_code = "EssentialContainerExited"
            moto_task.stopped_reason = ESSENTIAL_EXITED
        moto_task.containers[0].exitCode = exit_code
        moto_task.containers[0].last_status = "STOPPED"
        if task.oom_killed:
            moto_task.containers[0].reason = OOM_KILLED
        moto_task.last_status = moto_task.desired_status = "STOPPED"
        with self._lock:
            self.running.pop(task.arn, None)
        self._journal(
            task.arn, "STOPPED", exitCode=exit_code, seconds=round(time.monotonic() - task.started, 3)
        )
        self._emit(task.arn)

    def _terminate(self, task: RunningTask) -> None:
        """StopTask: SIGTERM, then SIGKILL after the stop timeout, as ECS does."""
        if task.process.poll() is None:
            task.process.send_signal(signal.SIGTERM)
            if task.hung:  # a frozen process takes its SIGTERM once it runs again
                task.process.send_signal(signal.SIGCONT)
            try:
                task.process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                task.process.kill()

    def _emit(self, arn: str) -> None:
        """Publish the task's state change, built from DescribeTasks as ECS builds it.

        Never raises: a DescribeTasks or publish error is tried again with a capped backoff until the
        event goes out, the agent stops or ``emit_patience`` runs out. A lost STOPPED event would
        leave the execution waiting for its task timeout (ECS delivers events at least once)."""
        event_id = str(uuid.uuid4())
        deadline = time.monotonic() + self.emit_patience
        delay = EMIT_FIRST_DELAY
        while True:
            try:
                answer = self.ecs.describe_tasks(cluster=self.cluster_arn, tasks=[arn])
                if not answer["tasks"]:  # failures[] MISSING: ECS no longer knows it, nothing to say
                    _log(f"task {arn}: no event: DescribeTasks answers {answer.get('failures')}")
                    return
                self.publish(self._event(event_id, arn, answer["tasks"][0]))
                return
            except Exception as e:  # noqa: BLE001 - tried again below; the error goes to the log
                error = f"{type(e).__name__}: {e}"
            if time.monotonic() + delay > deadline:
                _log(f"task {arn}: event LOST after {self.emit_patience:.0f} s of errors, last: {error}")
                return
            _log(f"task {arn}: event not sent ({error}); trying again in {delay:.2f} s")
            if self._stop.wait(delay):
                _log(f"task {arn}: event not sent: the agent is stopping")
                return
            delay = min(delay * 2, EMIT_MAX_DELAY)

    def _event(self, event_id: str, arn: str, detail: dict[str, Any]) -> dict[str, Any]:
        return {
            "version": "0",
            "id": event_id,
            "detail-type": TASK_STATE_CHANGE.detail_type,
            "source": TASK_STATE_CHANGE.source,
            "account": self.account,
            "time": iso(),
            "region": self.region,
            "resources": [arn],
            "detail": json.loads(json.dumps(detail, default=iso)),
        }

    def _journal(self, arn: str, status: str, **extra: Any) -> None:
        self.journal.write(taskArn=arn, lastStatus=status, **extra)

    def pids(self) -> dict[str, int]:
        with self._lock:
            return {arn: t.process.pid for arn, t in self.running.items()}


def _serialized(method: Callable[..., Any], lock: threading.RLock) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    return call


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _log(message: str) -> None:
    print(f"task agent: {message}", file=sys.stderr, flush=True)


def worker_base_env(moto_url: str, region: str, job: JobChoice = JobChoice.DEMO) -> dict[str, str]:
    """What a Fargate container gets from the platform: credentials, region, our S3 stand-in; and
    the job the local cloud runs (the demo job unless told otherwise, whatever the job slot holds)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join(str(p) for p in WORKER_PATH),
        **CREDENTIALS,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": moto_url,  # every AWS call of the worker stays on this machine
        JOB_CHOICE_ENV: job,
        # The worker's progress lines at most once a second (worker.progress; deployed: once a minute),
        # so that `follow` shows them and the liveness tests run in seconds.
        PROGRESS_INTERVAL_ENV: "1",
    }
