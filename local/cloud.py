"""The local cloud's supervisor: starts every piece on 127.0.0.1, serves a control API, stops them all.

Run in the foreground by ``python -m local serve`` (``python -m local up`` starts that in the
background and waits for it). Everything it starts is its child, in its own process group, and
is stopped with it. ``state.json`` in the state folder says where everything listens; it exists
only while the cloud is up.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
from moto.moto_api import state_manager

from ecs_contract.demo_job import JOB_CHOICE_ENV, JobChoice
from local import proc
from local.agent import TaskAgent, worker_base_env
from local.authz import AuthorizingMotoServer, LambdaGate, Place, moto_task_definitions
from local.bus import EventBus
from local.durable import DurableRunner, DurableStore
from local.ecs_rules import EcsRules, EcsRulesConfig
from local.executions import ExecutionWatcher
from local.faults import FaultError, Faults
from local.functions import DEFAULT_CONCURRENCY, Environments, LambdaEndpoint
from local.iam import LocalIam
from local.seed import ACCOUNT, CREDENTIALS, REGION, client, seed
from local.subscriptions import Subscriptions, subscription_filters

STACK = "local"


class LocalCloud:
    def __init__(
        self,
        state_dir: Path,
        skip_time: bool = False,
        parameters: dict[str, str] | None = None,
        overlays: tuple[Path, ...] = (),
        drop_statements: tuple[str, ...] = (),
        concurrency: int = DEFAULT_CONCURRENCY,
        ecs: EcsRulesConfig | None = None,  # e.g. how long stopped tasks stay describable
        job: JobChoice = JobChoice.DEMO,
        max_durable_operations: int | None = None,  # AWS's 3,000 unless told (local/dex_runner.py)
        durable_store: DurableStore = DurableStore.SQLITE,
    ) -> None:
        self.state_dir, self.skip_time, self.parameters = state_dir, skip_time, parameters or {}
        self.concurrency = concurrency  # per function, unless it reserves its own (local/functions.py)
        self.ecs_rules = EcsRules(ecs or EcsRulesConfig())
        self.overlays = overlays  # extra functions (template.load), e.g. the bench's polling baseline
        self.drop_statements = drop_statements  # IAM statements left out, e.g. "Orchestrator/RunWorkerTasks"
        # The job the orchestrator checks and the worker runs: the demo job unless told otherwise,
        # so that replacing the job slot cannot break the demo, the faults or the tests.
        self.job = job
        self.max_durable_operations = max_durable_operations
        self.durable_store = durable_store
        self.state_file = state_dir / "state.json"
        self.stopped = threading.Event()
        self._stop_lock = threading.Lock()

    # -- start ------------------------------------------------------------------------------
    def start(self) -> dict[str, Any]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for old in self.state_dir.iterdir():  # a new cloud: moto starts empty, so must the store
            if old.name != "cloud.log":  # written by `up` around us
                shutil.rmtree(old) if old.is_dir() else old.unlink()
        (self.state_dir / "logs").mkdir()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
        place = Place(ACCOUNT, REGION)
        # moto behind an IAM gate: the calls of the functions and the worker are authorized.
        self.moto = AuthorizingMotoServer(place, moto_task_definitions(place))
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"
        # Tasks stay as the agent sets them: describe_tasks must not move them along by itself.
        state_manager.set_transition("ecs::task", {"progression": "manual", "times": sys.maxsize})
        template = seed(lambda s: client(s, self.moto_url), STACK, self.parameters, self.overlays)
        functions = template.functions()
        # IAM: each function runs with its template role, the worker with its task role (local/iam.py).
        self.iam = LocalIam.from_template(template, self.drop_statements)
        self.moto.gate.iam = self.iam

        runner_port = proc.free_port()
        self.endpoint = LambdaEndpoint(
            functions, {}, lambda *a: self.runner.start_execution(*a), f"http://127.0.0.1:{runner_port}"
        )
        self.endpoint.authorize = LambdaGate(self.iam, place)
        self.runner = DurableRunner(
            runner_port,
            self.endpoint.url,
            self.state_dir,
            REGION,
            ACCOUNT,
            self.skip_time,
            max_operations=self.max_durable_operations,
            store=self.durable_store,
        )
        # Execution environments start on demand, each invocation's cold start as in Lambda.
        self.endpoint.environments.update(
            {
                f.logical_id: Environments(
                    f,
                    {**self.function_env(f.logical_id), **f.environment, JOB_CHOICE_ENV: self.job},
                    self.state_dir,
                    self.concurrency,
                )
                for f in functions.values()
            }
        )
        self.endpoint.start()
        self.runner.start({**os.environ, **CREDENTIALS})

        lambda_client = client("lambda", self.endpoint.url, retries={"max_attempts": 1}, read_timeout=120)
        # Faults are armed for an execution by name; the runner knows which executions bear it.
        self.faults = Faults(self.runner.executions_named)
        self.ecs_rules.spot_unavailable = lambda started_by: self.faults.fire("spot-no-capacity", started_by)
        self.bus = EventBus(
            functions,
            lambda_client,
            client("sqs", self.moto_url),
            self.state_dir / "events.jsonl",
            faults=self.faults,
            # Lambda sends a function's failed events to its destination with the function's role.
            destination_client=lambda f: self.role_client("sqs", self.iam.function_credentials(f.logical_id)),
        )
        # The template's CloudWatch Logs subscription filters: matching worker lines go to the relay.
        self.subscriptions = Subscriptions(
            subscription_filters(template),
            lambda_client,
            self.state_dir / "subscriptions.jsonl",
            ACCOUNT,
            retry_attempts=lambda function_id: functions[function_id].async_retry_attempts,
        )
        self.subscriptions.start()
        (td_id,) = template.of_type("AWS::ECS::TaskDefinition")
        task_role = self.iam.role_of_arn(str(template.task_definition(td_id).task_role_arn))
        self.agent = TaskAgent(
            cluster_arn=template.r.names.refs["Cluster.Arn"],
            task_definition=template.task_definition(td_id),
            clients=lambda s: client(s, self.moto_url),
            publish=self.bus.put,
            worker_env={
                **worker_base_env(self.moto_url, REGION, self.job),
                **self.iam.credentials(task_role).env(),
            },
            state_dir=self.state_dir,
            account=ACCOUNT,
            region=REGION,
            faults=self.faults,
            ecs_rules=self.ecs_rules,
            log_lines=self.subscriptions.put,
        )
        self.agent.start()
        self.watcher = ExecutionWatcher(
            [f for f in functions.values() if f.durable is not None],
            client("lambda", self.runner.url, retries={"max_attempts": 1}),
            self.bus.put,
            ACCOUNT,
            REGION,
        )
        self.watcher.start()
        self.control = ThreadingHTTPServer(("127.0.0.1", 0), self._control_handler())
        self.control.daemon_threads = True
        threading.Thread(target=self.control.serve_forever, args=(0.05,), name="control", daemon=True).start()

        state = {
            "pid": os.getpid(),
            "control": f"http://127.0.0.1:{self.control.server_address[1]}",
            "lambda": self.endpoint.url,
            "moto": self.moto_url,
            "durable": self.runner.url,
            "region": REGION,
            "stack": STACK,
            "outputs": template.outputs(),
            "stateDir": str(self.state_dir),
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_file)
        return state

    def function_env(self, function_id: str) -> dict[str, str]:
        """What Lambda gives a function, with AWS pointed at this machine: its role's credentials."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            **self.iam.function_credentials(function_id).env(),
            "AWS_ENDPOINT_URL": self.moto_url,  # ECS, S3, SQS, Logs: moto, behind the IAM gate
            # The durable APIs (checkpoints, callbacks): the Lambda endpoint authorizes, then forwards.
            "AWS_ENDPOINT_URL_LAMBDA": self.endpoint.url,
            "PYTHONUNBUFFERED": "1",
        }

    def role_client(self, service: str, credentials: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name=REGION,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
        )

    # -- stop -------------------------------------------------------------------------------
    def stop(self) -> None:
        with self._stop_lock:
            if self.stopped.is_set():
                return
            self.state_file.unlink(missing_ok=True)
            for name, step in (
                ("control", lambda: self.control.shutdown()),
                ("watcher", lambda: self.watcher.stop()),
                ("agent", lambda: self.agent.stop()),
                ("bus", lambda: self.bus.stop()),
                ("subscriptions", lambda: self.subscriptions.stop()),
                ("runner", lambda: self.runner.stop()),
                ("endpoint", lambda: self.endpoint.stop()),
                ("environments", self._stop_environments),
                ("moto", lambda: self.moto.stop()),
            ):
                t0 = time.monotonic()
                try:
                    step()
                    print(f"stopped {name} in {time.monotonic() - t0:.2f} s", flush=True)
                except Exception as e:  # noqa: BLE001 - stop everything else regardless
                    print(
                        f"local cloud: while stopping: {type(e).__name__}: {e}", file=sys.stderr, flush=True
                    )
            self.stopped.set()

    def _stop_environments(self) -> None:
        for environments in self.endpoint.environments.values():
            environments.close()
            print(
                f"{environments.function.logical_id}: {environments.created} environment(s) started",
                flush=True,
            )

    def serve(self) -> None:
        """Start, then block until SIGTERM/SIGINT or ``POST /shutdown``; always stop everything."""
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=self.stop).start())
        try:
            state = self.start()
            print(f"local cloud up: {json.dumps(state)}", flush=True)
            self.stopped.wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    # -- control API ------------------------------------------------------------------------
    def _control_handler(self) -> type[BaseHTTPRequestHandler]:
        return type("Control", (_Control,), {"cloud": self})


class _Control(BaseHTTPRequestHandler):
    """The control API of `python -m local` (health, faults, IAM edits, the durable runner)."""

    cloud: LocalCloud  # set by LocalCloud._control_handler

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")

    def do_GET(self) -> None:
        reads: dict[str, Callable[[], Any]] = {
            "/health": lambda: {"durableRunner": self.cloud.runner.running},
            "/tasks": self.cloud.agent.pids,
            "/faults": self.cloud.faults.listing,
            "/iam": lambda: {"statements": self.cloud.iam.statement_ids(), "dropped": self.cloud.iam.dropped},
        }
        read = reads.get(self.path)
        self._reply(200, read()) if read else self._reply(404, {"error": f"no {self.path}"})

    def do_POST(self) -> None:
        actions: dict[str, Callable[[], tuple[int, Any]]] = {
            "/durable-runner/stop": lambda: self._stop_runner(kill=False),
            "/durable-runner/kill": lambda: self._stop_runner(kill=True),
            "/durable-runner/start": self._start_runner,
            "/faults": self._arm_fault,
            # as an admin editing the roles would
            "/iam/drop": lambda: self._edit_iam(restore=False),
            "/iam/restore": lambda: self._edit_iam(restore=True),
            "/shutdown": self._shutdown,
        }
        action = actions.get(self.path)
        if action is None:
            self._reply(404, {"error": f"no {self.path}"})
            return
        try:
            status, body = action()
        except (ValueError, AttributeError, FaultError) as e:  # a request the caller can fix
            status, body = 400, {"error": str(e)}
        self._reply(status, body)

    def _stop_runner(self, kill: bool) -> tuple[int, Any]:
        self.cloud.runner.stop(kill=kill)
        return 200, {"durableRunner": False}

    def _start_runner(self) -> tuple[int, Any]:
        if not self.cloud.runner.running:
            self.cloud.runner.start({**os.environ, **CREDENTIALS})
        return 200, {"durableRunner": True}

    def _arm_fault(self) -> tuple[int, Any]:
        spec = self._body()
        fault = self.cloud.faults.arm(spec.get("kind"), spec.get("execution"), spec.get("count", 1))
        return 200, fault.__dict__

    def _edit_iam(self, restore: bool) -> tuple[int, Any]:
        spec = self._body()
        if restore:
            self.cloud.iam.restore()
        self.cloud.iam.drop(spec.get("statements", []))
        return 200, {"dropped": self.cloud.iam.dropped}

    def _shutdown(self) -> tuple[int, Any]:
        threading.Thread(target=self.cloud.stop).start()
        return 202, {"stopping": True}

    def log_message(self, format: str, *args: Any) -> None:
        return
