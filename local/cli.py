"""``python -m local``: run the orchestration on this machine (or on a deployed stack) and watch it."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from ecs_contract.demo_job import JobChoice
from ecs_contract.limits import DURABLE_OPERATIONS_MAX
from local import proc, targets
from local.durable import DurableStore
from local.faults import KINDS
from local.functions import DEFAULT_CONCURRENCY
from local.rates import TokenRate
from local.redrive import redrive
from local.scenarios import SCENARIOS
from local.template import ROOT
from local.timeline import Follower, follow, render

# Where the local cloud keeps its state, logs and sqlite store; LOCAL_CLOUD_DIR moves it.
DEFAULT_STATE_DIR = Path(
    os.environ.get("LOCAL_CLOUD_DIR") or Path(__file__).resolve().parent.parent / ".local-cloud"
)
# The durable function `invoke` starts unless told another (its "<Function>AliasArn" output).
ORCHESTRATOR = "Orchestrator"


# -- the local cloud ------------------------------------------------------------------------
def _shown(path: Path) -> str:
    """A path as the user would type it: relative to where they are, when it is under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _state(state_dir: Path) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads((state_dir / "state.json").read_text())
    except (OSError, ValueError):
        return None
    return state if proc.alive(state["pid"]) else None


def _serve_command(args: argparse.Namespace) -> list[str]:
    """`up`'s options, passed on to the `serve` process it starts."""
    command = [sys.executable, "-m", "local", "--state-dir", str(args.state_dir), "serve"]
    if args.skip_time:
        command.append("--skip-time")
    command += [f"--parameter={key}={value}" for key, value in args.parameter]
    command += [f"--overlay={overlay.resolve()}" for overlay in args.overlay]
    command += [f"--drop-statement={statement}" for statement in args.drop_statement]
    if args.run_task_rate is not None:
        command.append(f"--run-task-rate={args.run_task_rate}")
    if args.max_durable_operations is not None:
        command.append(f"--max-durable-operations={args.max_durable_operations}")
    if args.durable_store is not DurableStore.SQLITE:
        command.append(f"--durable-store={args.durable_store.value}")
    return [*command, "--concurrency", str(args.concurrency), "--job", str(args.job)]


def cmd_up(args: argparse.Namespace) -> int:
    if (state := _state(args.state_dir)) is not None:
        print(f"local cloud already up (pid {state['pid']}); Lambda endpoint {state['lambda']}")
        return 0
    args.state_dir.mkdir(parents=True, exist_ok=True)
    (args.state_dir / "state.json").unlink(missing_ok=True)
    log = args.state_dir / "cloud.log"
    command = _serve_command(args)
    started = time.monotonic()
    with log.open("wb") as out:
        child = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )

    def ready() -> dict[str, Any] | None:
        if child.poll() is not None:
            tail = log.read_text()[-3000:]
            raise proc.NotReady(f"the local cloud exited with {child.returncode}:\n{tail}")
        state = _state(args.state_dir)
        return state if state and state["pid"] == child.pid else None

    try:
        state = proc.wait_for("local cloud", ready, args.timeout, interval=0.05)
    except proc.NotReady as e:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
        print(f"error: {e}", file=sys.stderr)
        return 1
    took = time.monotonic() - started
    print(f"local cloud up in {took:.1f} s (pid {state['pid']}, state in {_shown(args.state_dir)})")
    for key in ("lambda", "durable", "moto"):
        print(f"  {key:<8} {state[key]}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    state = _state(args.state_dir)
    if state is None:
        (args.state_dir / "state.json").unlink(missing_ok=True)
        print("local cloud is not running")
        return 0
    pid = state["pid"]
    try:
        urllib.request.urlopen(
            urllib.request.Request(f"{state['control']}/shutdown", method="POST"), timeout=5
        )
    except OSError:
        os.kill(pid, signal.SIGTERM)
    try:
        proc.wait_for("local cloud shutdown", lambda: not proc.alive(pid) or None, args.timeout)
    except proc.NotReady:
        os.killpg(pid, signal.SIGKILL)  # its children are in its process group
        print(f"local cloud did not stop in {args.timeout:g} s: killed", file=sys.stderr)
    _reap(pid)
    print("local cloud stopped")
    return 0


def _reap(pid: int) -> None:
    """Whatever is left of the cloud's process group (e.g. a worker) is killed too."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def cmd_serve(args: argparse.Namespace) -> int:
    from local.cloud import LocalCloud  # moto and the servers load only here
    from local.ecs_rules import EcsRulesConfig

    rules = (
        EcsRulesConfig() if args.run_task_rate is None else EcsRulesConfig(run_task_rate=args.run_task_rate)
    )
    LocalCloud(
        args.state_dir,
        skip_time=args.skip_time,
        parameters=dict(args.parameter),
        overlays=tuple(args.overlay),
        drop_statements=tuple(args.drop_statement),
        concurrency=args.concurrency,
        ecs=rules,
        job=args.job,
        max_durable_operations=args.max_durable_operations,
        durable_store=args.durable_store,
    ).serve()
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    state = _state(args.state_dir)
    if state is None:
        print("local cloud is not running (start it with: python -m local up)")
        return 1
    with urllib.request.urlopen(f"{state['control']}/health", timeout=5) as r:
        health = json.loads(r.read())
    print(f"local cloud up (pid {state['pid']})")
    for key in ("lambda", "durable", "moto", "control"):
        print(f"  {key:<8} {state[key]}")
    print(f"  durable runner {'running' if health['durableRunner'] else 'STOPPED'}")
    for key, value in state["outputs"].items():
        print(f"  {key:<28} {value}")
    return 0


def _post(args: argparse.Namespace, path: str, body: dict[str, Any] | None = None) -> Any:
    """POST to the running local cloud's control API; its JSON answer."""
    state = _state(args.state_dir)
    if state is None:
        raise targets.TargetError("the local cloud is not running: start it with `python -m local up`")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{state['control']}{path}", data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        raise targets.TargetError(json.loads(e.read()).get("error", str(e))) from None


def cmd_runner(args: argparse.Namespace) -> int:
    for action in ("stop", "start") if args.action == "restart" else (args.action,):
        print(f"durable runner: {action} -> {_post(args, f'/durable-runner/{action}')}")
    return 0


def cmd_fault(args: argparse.Namespace) -> int:
    fault = _post(args, "/faults", {"kind": args.kind, "execution": args.execution, "count": args.count})
    print(f"armed: {fault['kind']} x{fault['count']} for the tasks of execution {fault['execution']!r}")
    return 0


# -- executions -----------------------------------------------------------------------------
def _target(args: argparse.Namespace) -> targets.Target:
    if args.target == "aws":
        if not args.stack:
            raise targets.TargetError("--target aws needs --stack NAME")
        return targets.aws(args.stack, args.region)
    return targets.local(args.state_dir)


def _payload(path: Path) -> bytes:
    try:
        body = path.read_bytes()
        json.loads(body)
    except OSError as e:
        raise targets.TargetError(f"cannot read {path}: {e.strerror}") from e
    except ValueError as e:
        raise targets.TargetError(f"{path} is not JSON: {e}") from e
    return body


def start(
    target: targets.Target, payload: bytes, name: str | None = None, function: str = ORCHESTRATOR
) -> str:
    """Invoke a durable function (the orchestrator unless told) asynchronously on its alias;
    returns the durable execution ARN.

    The execution is always named, so that if the Invoke answer does not carry its ARN, the
    execution is found by that name (ListDurableExecutionsByFunction)."""
    name = name or f"local-cli-{uuid.uuid4()}"
    qualified = target.durable_function(function)
    answer = target.lambda_client.invoke(
        FunctionName=qualified, InvocationType="Event", Payload=payload, DurableExecutionName=name
    )
    if answer.get("DurableExecutionArn"):
        return str(answer["DurableExecutionArn"])

    function, _, qualifier = qualified.rpartition(":function:")[2].partition(":")

    def by_name() -> str | None:
        found = target.lambda_client.list_durable_executions_by_function(
            FunctionName=function, Qualifier=qualifier or "$LATEST", DurableExecutionName=name
        )["DurableExecutions"]
        return str(found[0]["DurableExecutionArn"]) if found else None

    return proc.wait_for(f"durable execution {name!r}", by_name, timeout=60, interval=target.poll_interval)


def cmd_invoke(args: argparse.Namespace) -> int:
    print(start(_target(args), _payload(args.payload), args.name, args.function))
    return 0


def summary(execution: dict[str, Any]) -> str:
    status = execution["Status"]
    if status == "SUCCEEDED":
        return f"{status}: {execution.get('Result')}"
    error = execution.get("Error") or {}
    return f"{status}: {error.get('ErrorType', '')}: {error.get('ErrorMessage', '')}"


def cmd_execution(args: argparse.Namespace) -> int:
    follower = Follower(_target(args), args.arn)
    entries = follower.poll()
    print(f"execution {args.arn}")
    for entry in entries:
        print(render(entry, entries[0].at))
    print(summary(follower.execution))
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    """StopDurableExecution; the relay's cancellation rule then stops the execution's task."""
    target = _target(args)
    target.lambda_client.stop_durable_execution(
        DurableExecutionArn=args.arn,
        Error={"ErrorType": "StoppedByUser", "ErrorMessage": args.reason},
    )
    print(f"stopped {args.arn}")
    return 0


def cmd_redrive(args: argparse.Namespace) -> int:
    report = redrive(_target(args), sys.stdout)
    return 1 if report.failed else 0


def cmd_follow(args: argparse.Namespace) -> int:
    execution = follow(_target(args), args.arn, timeout=args.timeout)
    print(summary(execution))
    return 0


def cmd_scenarios(args: argparse.Namespace) -> int:
    names = args.only.split(",") if args.only else list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise targets.TargetError(f"unknown scenario {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    target = _target(args)
    started = time.monotonic()
    scenarios = [SCENARIOS[n] for n in names]
    runs = [(s, start(target, _payload(s.payload), function=s.function)) for s in scenarios]  # all at once
    results = []
    for scenario, arn in runs:
        print(f"\n== {scenario.name} ({scenario.payload.relative_to(ROOT)}) -> {arn}")
        execution = follow(target, arn, timeout=args.timeout)
        print(summary(execution))
        results.append((scenario, scenario.check(execution)))
    print(f"\n{len(results)} scenario(s) on {target.name} in {time.monotonic() - started:.1f} s")
    for scenario, problem in results:
        print(f"  {'ok  ' if problem is None else 'FAIL'} {scenario.name}: {problem or scenario.status}")
    return 0 if all(p is None for _, p in results) else 1


def cmd_demo(args: argparse.Namespace) -> int:
    """Start the local cloud (unless it is up), run two scenarios, stop what it started."""
    started_here = _state(args.state_dir) is None
    if started_here:
        # `up` as the CLI parses it, defaults and all (a new `up` option needs nothing here); the
        # demo's scenarios are the demo job's, whatever the job slot holds.
        up = parser().parse_args(["--state-dir", str(args.state_dir), "up", "--job", JobChoice.DEMO.value])
        if cmd_up(up) != 0:
            return 1
    try:
        scenarios = argparse.Namespace(**vars(args), target="local", stack=None, region=None)
        return cmd_scenarios(scenarios)
    finally:
        if started_here:
            cmd_down(argparse.Namespace(state_dir=args.state_dir, timeout=30))


def _rate(value: str) -> TokenRate:
    try:
        return TokenRate.parse(value)
    except ValueError as e:  # a bad number, a burst below 1, a refill of 0
        raise argparse.ArgumentTypeError(str(e)) from e


def _operations(value: str) -> int:
    try:
        limit = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if limit < 1:  # an execution's start is its first operation
        raise argparse.ArgumentTypeError(f"an execution needs at least 1 operation, got {limit}")
    return limit


def _parameter(value: str) -> tuple[str, str]:
    key, sep, val = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {value!r}")
    return key, val


# -- parser ---------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m local",
        description="Run the orchestration on the local cloud (or a deployed stack) and watch it.",
    )
    p.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help="the local cloud's folder (default: $LOCAL_CLOUD_DIR or .local-cloud)",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func: Any, help: str) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help, description=help)
        c.set_defaults(func=func)
        return c

    def with_target(c: argparse.ArgumentParser) -> argparse.ArgumentParser:
        c.add_argument(
            "--target", choices=("local", "aws"), default="local", help="where to run (default local)"
        )
        c.add_argument("--stack", help="the deployed stack's name (with --target aws)")
        c.add_argument(
            "--region", help="the stack's region (with --target aws; default from your AWS config)"
        )
        return c

    for name, func, help in (
        ("up", cmd_up, "start the local cloud in the background and wait until it is ready"),
        ("serve", cmd_serve, "run the local cloud in the foreground (what `up` starts)"),
    ):
        c = command(name, func, help)
        c.add_argument("--skip-time", action="store_true", help="durable waits complete at once")
        c.add_argument("--timeout", type=float, default=60, help="seconds to wait for it to be ready")
        c.add_argument(
            "--parameter",
            action="append",
            default=[],
            type=_parameter,
            metavar="KEY=VALUE",
            help="override a template.yaml parameter, e.g. TaskTimeoutSeconds=30 (repeatable)",
        )
        c.add_argument(
            "--overlay",
            action="append",
            default=[],
            type=Path,
            metavar="TEMPLATE",
            help="also host this template's functions (adds resources, never replaces one; repeatable), "
            "e.g. bench/template-overlay.yaml",
        )
        c.add_argument(
            "--concurrency",
            type=int,
            default=DEFAULT_CONCURRENCY,
            help="execution environments per function unless its ReservedConcurrentExecutions says "
            f"(default {DEFAULT_CONCURRENCY}); beyond them a synchronous invoke is throttled (429)",
        )
        c.add_argument(
            "--run-task-rate",
            type=_rate,
            metavar="BURST/PER_SECOND",
            help="ECS RunTask calls allowed per account and Region: BURST at once, then PER_SECOND a "
            "second (default: AWS's for Fargate, 100/20); beyond them RunTask answers ThrottlingException",
        )
        c.add_argument(
            "--max-durable-operations",
            type=_operations,
            metavar="N",
            help="durable operations allowed per durable execution (default: AWS's quota, "
            f"{DURABLE_OPERATIONS_MAX:,}, which cannot be increased); a checkpoint past it fails the "
            "execution. Lower it to see a fan-out meet the quota with a few items",
        )
        c.add_argument(
            "--durable-store",
            type=DurableStore,
            choices=list(DurableStore),
            default=DurableStore.SQLITE,
            metavar="{sqlite,memory}",
            help="where the durable runner keeps executions (default sqlite: they survive a restart of "
            "the runner, at the cost of writing each whole execution at every checkpoint); memory "
            "for benchmarks of executions with thousands of operations",
        )
        c.add_argument(
            "--drop-statement",
            action="append",
            default=[],
            metavar="HOLDER/SID",
            help="leave this IAM statement out of its role, e.g. Orchestrator/RunWorkerTasks (repeatable; "
            "GET /iam on the control API lists them)",
        )
        c.add_argument(
            "--job",
            type=JobChoice,
            choices=list(JobChoice),
            default=JobChoice.DEMO,
            help="the job the orchestrator checks and the worker runs: demo (default), the seeds' demo "
            "job (worker/worker/demo_job.py), which the scenarios, faults and tests expect; slot, the "
            "job slot as deployed (worker/worker/job.py, orchestrator/orchestrator/job_rules.py)",
        )
    command("down", cmd_down, "stop the local cloud and everything it started").add_argument(
        "--timeout", type=float, default=30, help="seconds to wait before killing it"
    )
    command("status", cmd_status, "is the local cloud up, and where does it listen")
    command("durable-runner", cmd_runner, "stop, start or restart the local durable runner").add_argument(
        "action", choices=("stop", "start", "restart", "kill")
    )
    c = command("fault", cmd_fault, "arm a fault for the tasks of one execution (local cloud only)")
    c.add_argument("kind", choices=sorted(KINDS), help="; ".join(f"{k}: {v}" for k, v in KINDS.items()))
    c.add_argument(
        "--execution",
        required=True,
        metavar="NAME",
        help="the durable execution's name whose tasks it hits: start it with `invoke --name NAME` "
        "(before or after arming; a fault fires for tasks started after it is armed)",
    )
    c.add_argument("--count", type=int, default=1, help="how many times it fires (default 1)")
    c = with_target(command("invoke", cmd_invoke, "start an orchestration; prints the execution ARN at once"))
    c.add_argument("payload", type=Path, help="a JSON payload file, e.g. events/invoke/success.json")
    c.add_argument("--name", help="the durable execution's name (default: generated)")
    c.add_argument(
        "--function",
        default=ORCHESTRATOR,
        help="the durable function to invoke, by its logical id in template.yaml (default "
        f"{ORCHESTRATOR}); e.g. Pipeline with events/invoke/pipeline.json",
    )
    c = with_target(command("execution", cmd_execution, "an execution's status, history and result"))
    c.add_argument("arn", help="the durable execution ARN")
    c = with_target(command("stop", cmd_stop, "stop an execution; its running task is stopped too"))
    c.add_argument("arn", help="the durable execution ARN")
    c.add_argument("--reason", default="stopped by the user", help="recorded as the execution's error")
    with_target(command("redrive", cmd_redrive, "hand the dead-letter queue's events back to the relay"))
    c = with_target(command("follow", cmd_follow, "follow an execution live until it ends"))
    c.add_argument("arn", help="the durable execution ARN")
    c.add_argument("--timeout", type=float, default=3600, help="give up after this many seconds")
    c = with_target(command("scenarios", cmd_scenarios, "run the scenario set and check each outcome"))
    c.add_argument("--only", help=f"comma-separated subset of: {', '.join(SCENARIOS)}")
    c.add_argument("--timeout", type=float, default=600, help="per scenario, in seconds")
    c = command("demo", cmd_demo, "up, the success and worker-failure scenarios with their timelines, down")
    c.add_argument("--only", default="success,worker-failure", help="the scenarios to run")
    c.add_argument("--timeout", type=float, default=120, help="per scenario, in seconds")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.state_dir = args.state_dir.resolve()
    try:
        return int(args.func(args))
    except (targets.TargetError, TimeoutError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
