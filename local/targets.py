"""Where the CLI runs scenarios: the local cloud, or a deployed stack (``--target aws --stack NAME``).

Both are described the same way, by the stack's outputs (template.yaml ``Outputs``), and reached
with the same boto3 clients; only the endpoints differ. The CLI code above this module does not
know which one it talks to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from local import seed
from local.template import load

REQUIRED_OUTPUTS = ("OrchestratorAliasArn", "ClusterArn", "WorkerLogGroupName")


class TargetError(RuntimeError):
    """The target cannot be used: the local cloud is down, the stack is missing or incomplete."""


@dataclass(frozen=True)
class WorkerLogs:
    """Where the awslogs driver writes a task's output: ``<prefix>/<container>/<task id>``."""

    group: str
    prefix: str
    container: str

    def stream(self, task_arn: str) -> str:
        return f"{self.prefix}/{self.container}/{task_arn.rsplit('/', 1)[1]}"


@dataclass(frozen=True)
class Target:
    name: str
    outputs: dict[str, str]
    lambda_client: Any  # Invoke and the durable execution APIs
    ecs: Any
    logs: Any
    sqs: Any  # the dead-letter queue
    worker_logs: WorkerLogs
    poll_interval: float
    journal: Path | None = None  # the local cloud's event-delivery record, if any
    # `follow` shows the worker's lines through CloudWatch Logs Live Tail (local.live_tail); the
    # local cloud has none (moto's StartLiveTail is not live, and its endpoint has no "stream-" host).
    live_tail: bool = False

    @property
    def orchestrator(self) -> str:
        return self.outputs["OrchestratorAliasArn"]

    def durable_function(self, function: str) -> str:
        """The qualified ARN to invoke a durable function of the stack by: its "<Function>AliasArn"
        output (template.yaml), as a caller outside the stack would find it."""
        arn = self.outputs.get(f"{function}AliasArn")
        if not arn:
            have = sorted(k.removesuffix("AliasArn") for k in self.outputs if k.endswith("AliasArn"))
            raise TargetError(f"{self.name} has no durable function {function!r}: it has {', '.join(have)}")
        return arn

    @property
    def cluster(self) -> str:
        return self.outputs["ClusterArn"]


def worker_logs(group: str) -> WorkerLogs:
    """The container name and stream prefix come from template.yaml's task definition."""
    for res in load()["Resources"].values():
        if res.get("Type") == "AWS::ECS::TaskDefinition":
            container = res["Properties"]["ContainerDefinitions"][0]
            prefix = container["LogConfiguration"]["Options"]["awslogs-stream-prefix"]
            return WorkerLogs(group=group, prefix=prefix, container=container["Name"])
    raise TargetError("template.yaml has no ECS task definition")


def _check(outputs: dict[str, str], where: str) -> dict[str, str]:
    missing = [k for k in REQUIRED_OUTPUTS if not outputs.get(k)]
    if missing:
        raise TargetError(f"{where} has no output {', '.join(missing)}: is it this project's stack?")
    return outputs


def local(state_dir: Path) -> Target:
    state_file = state_dir / "state.json"
    if not state_file.exists():
        raise TargetError("the local cloud is not running: start it with `python -m local up`")
    state = json.loads(state_file.read_text())
    outputs = _check(state["outputs"], "the local cloud")

    retries = {"max_attempts": 2}
    return Target(
        name="local",
        outputs=outputs,
        lambda_client=seed.client("lambda", state["lambda"], retries=retries),
        ecs=seed.client("ecs", state["moto"], retries=retries),
        logs=seed.client("logs", state["moto"], retries=retries),
        sqs=seed.client("sqs", state["moto"], retries=retries),
        worker_logs=worker_logs(outputs["WorkerLogGroupName"]),
        poll_interval=0.1,
        journal=Path(state["stateDir"]) / "events.jsonl",
    )


def aws(stack: str, region: str | None = None, session: Any = None) -> Target:
    """A deployed stack, found by name; credentials and region from the usual AWS settings."""
    session = session or boto3.session.Session(region_name=region)
    try:
        stacks = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    except ClientError as e:
        raise TargetError(f"stack {stack!r}: {e.response['Error'].get('Message', e)}") from e
    except BotoCoreError as e:
        raise TargetError(f"cannot reach CloudFormation for stack {stack!r}: {e}") from e
    outputs = _check(
        {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}, f"stack {stack!r}"
    )
    return Target(
        name=f"aws:{stack}",
        outputs=outputs,
        lambda_client=session.client("lambda"),
        ecs=session.client("ecs"),
        logs=session.client("logs"),
        sqs=session.client("sqs"),
        worker_logs=worker_logs(outputs["WorkerLogGroupName"]),
        poll_interval=2.0,
        live_tail=True,
    )
