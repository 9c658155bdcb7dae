"""The local Lambda's execution environments, as Lambda runs them (botocore's Lambda model and
the Lambda docs; CONTRIBUTING.md, "The local cloud is worth what it refuses").

An environment is a process that runs one invocation at a time; concurrent invocations get
environments of their own (cold starts) up to the function's concurrency, idle ones are reused;
the function's Timeout and MemorySize end an invocation as Lambda ends it; a durable function is
invoked only by a qualified name. Each test serves a small probe function
(``local_lambda_probe/probe.py``) at a Lambda endpoint of its own, with no other local service.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aws_durable_execution_sdk_python_testing.invoker import create_lambda_client
from botocore.exceptions import ClientError

from local import proc
from local.functions import Environments, LambdaEndpoint, Outcome
from local.seed import ACCOUNT, REGION, client, lambda_arn
from local.template import Function
from testkit.poll import poll

PROBE = Path(__file__).with_name("local_lambda_probe")
DURABLE = {"ExecutionTimeout": 600, "RetentionPeriodInDays": 1}
UNQUALIFIED = "You cannot invoke a durable function using an unqualified ARN."


def probe(
    name: str = "Probe",
    *,
    timeout: int = 30,
    memory: int = 256,
    durable: dict[str, int] | None = None,
    handler: str = "probe.handler",
    reserved: int | None = None,
) -> Function:
    return Function(
        logical_id=name,
        handler=handler,
        code_uri=PROBE,
        layers=(),
        environment={},
        timeout_seconds=timeout,
        memory_mb=memory,
        durable=durable,
        async_retry_attempts=2,
        on_failure_arn=None,
        rules=(),
        reserved_concurrency=reserved,
    )


@dataclass
class LocalLambda:
    endpoint: LambdaEndpoint
    state_dir: Path
    started: list[str] = field(default_factory=list)  # what each durable execution was started as

    def __post_init__(self) -> None:
        self.client = client("lambda", self.endpoint.url, retries={"total_max_attempts": 1}, read_timeout=60)

    def call(self, name: str, event: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return dict(self.client.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **kwargs))

    def invoke(self, name: str, event: dict[str, Any], **kwargs: Any) -> Any:
        """The function's result (the invocation must succeed)."""
        answer = self.call(name, event, **kwargs)
        payload = json.loads(answer["Payload"].read())
        assert "FunctionError" not in answer, payload
        return payload

    def records(self) -> list[dict[str, Any]]:
        path = self.state_dir / "invocations.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def of(self, request_id: str, phase: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r["requestId"] == request_id and r["phase"] == phase]


@contextlib.contextmanager
def local_lambda(state_dir: Path, *functions: Function, concurrency: int = 4) -> Iterator[LocalLambda]:
    env = {"PATH": "/usr/bin:/bin", "AWS_REGION": REGION, "PYTHONUNBUFFERED": "1"}
    environments = {f.logical_id: Environments(f, env, state_dir, concurrency) for f in functions}
    served: LocalLambda

    def start_execution(function: Function, invoked_as: str, name: str | None, payload: bytes) -> str:
        served.started.append(invoked_as)
        return f"{lambda_arn(invoked_as)}/durable-execution/{name or 'x'}/1"

    endpoint = LambdaEndpoint(
        {f.logical_id: f for f in functions}, environments, start_execution, "http://127.0.0.1:9"
    )
    served = LocalLambda(endpoint, state_dir)
    endpoint.start()
    try:
        yield served
    finally:
        endpoint.stop()
        for pool in environments.values():
            pool.close()


def started(folder: Path, count: int) -> bool:
    return len(list(folder.glob("started-*"))) >= count


def test_concurrent_invocations_run_in_environments_of_their_own_and_idle_ones_are_reused(tmp_path):
    with local_lambda(tmp_path, probe()) as aws, ThreadPoolExecutor(2) as pool:
        held = [pool.submit(aws.invoke, "Probe", {"hold": str(tmp_path)}) for _ in range(2)]
        poll(lambda: started(tmp_path, 2), what="both invocations to start")
        (tmp_path / "release").touch()
        first, second = (f.result() for f in held)
        assert first["pid"] != second["pid"]  # two processes: module state is not shared
        assert first["invocations"] == second["invocations"] == 1

        third = aws.invoke("Probe", {})
        assert third["pid"] in {first["pid"], second["pid"]}  # warm: an idle environment again
        assert third["invocations"] == 2


def test_each_invocation_says_which_environment_served_it_and_whether_it_was_a_cold_start(tmp_path):
    with local_lambda(tmp_path, probe()) as aws:
        first = aws.invoke("Probe", {})
        second = aws.invoke("Probe", {})
        assert first["pid"] == second["pid"]
        starts = [r for r in aws.records() if r["phase"] == "start"]
        assert [r["coldStart"] for r in starts] == [True, False]
        assert starts[0]["environment"] == starts[1]["environment"]
        # the log stream names the environment, as Lambda's "2024/01/31/[$LATEST]<id>" does
        assert first["logStream"].endswith(f"[$LATEST]{starts[0]['environment']}")
        log = (tmp_path / "logs" / "Probe.log").read_text()
        environment = starts[0]["environment"]
        for record, kind in zip(starts, ("cold", "warm"), strict=True):
            assert f"START RequestId: {record['requestId']} Version: $LATEST" in log
            assert f"Environment: {environment} ({kind})" in log


def test_an_invocation_past_its_timeout_fails_as_in_lambda_and_the_next_gets_a_new_environment(tmp_path):
    with local_lambda(tmp_path, probe(timeout=1)) as aws:
        before = aws.invoke("Probe", {})
        answer = aws.call("Probe", {"hold": str(tmp_path), "holdSeconds": 5})
        request_id = answer["ResponseMetadata"]["RequestId"]
        assert answer.get("FunctionError") == "Unhandled"
        assert json.loads(answer["Payload"].read()) == {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {request_id} Error: Task timed out after 1.00 seconds",
        }
        assert not proc.alive(before["pid"])  # the environment was stopped, not left running

        after = aws.invoke("Probe", {})
        assert after["pid"] != before["pid"]
        assert after["invocations"] == 1  # a cold start


def test_an_invocation_over_its_memory_size_fails_out_of_memory_and_the_environment_is_replaced(tmp_path):
    with local_lambda(tmp_path, probe(memory=128)) as aws:
        fits = aws.invoke("Probe", {"allocateMb": 32})
        answer = aws.call("Probe", {"allocateMb": 256})
        request_id = answer["ResponseMetadata"]["RequestId"]
        assert answer.get("FunctionError") == "Unhandled"
        assert json.loads(answer["Payload"].read()) == {
            "errorType": "Runtime.OutOfMemory",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
        }
        assert not proc.alive(fits["pid"])

        after = aws.invoke("Probe", {})
        assert after["pid"] != fits["pid"] and after["invocations"] == 1


def test_threads_count_against_memory_size_by_what_they_use_not_by_their_stacks_reservation(tmp_path):
    # Lambda meters the memory an environment uses. Each thread reserves an 8 MB stack of address
    # space (ulimit -s) and touches a few pages of it: 200 threads fit in 128 MB (the SDK's map runs
    # a thread per item in flight).
    with local_lambda(tmp_path, probe(memory=128)) as aws:
        assert aws.invoke("Probe", {"threads": 200})["invocations"] == 1


def test_at_the_concurrency_cap_a_synchronous_invoke_is_throttled_and_an_event_waits_its_turn(tmp_path):
    with local_lambda(tmp_path, probe(), concurrency=1) as aws, ThreadPoolExecutor(1) as pool:
        held = pool.submit(aws.invoke, "Probe", {"hold": str(tmp_path)})
        poll(lambda: started(tmp_path, 1), what="the first invocation to start")

        with pytest.raises(ClientError) as refused:
            aws.invoke("Probe", {})
        response = refused.value.response
        assert response["Error"]["Code"] == "TooManyRequestsException"
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert response["Reason"] == "ConcurrentInvocationLimitExceeded"

        queued = aws.call("Probe", {}, InvocationType="Event")
        assert queued["StatusCode"] == 202
        request_id = queued["ResponseMetadata"]["RequestId"]
        poll(lambda: aws.of(request_id, "queued"), what="the event to be queued")
        assert aws.of(request_id, "start") == []  # no environment is free: it waits

        (tmp_path / "release").touch()
        first = held.result()
        (end,) = poll(lambda: aws.of(request_id, "end"), what="the queued event to run")
        assert end["outcome"] == Outcome.SUCCEEDED
        assert {r["environment"] for r in aws.records() if r["phase"] == "start"} == {
            aws.of(request_id, "start")[0]["environment"]
        }  # one environment served both
        assert first["invocations"] == 1


def test_a_function_s_reserved_concurrency_is_its_cap_and_the_throttle_says_so(tmp_path):
    with local_lambda(tmp_path, probe(reserved=1), concurrency=4) as aws, ThreadPoolExecutor(1) as pool:
        held = pool.submit(aws.invoke, "Probe", {"hold": str(tmp_path)})
        poll(lambda: started(tmp_path, 1), what="the first invocation to start")
        with pytest.raises(ClientError) as refused:
            aws.invoke("Probe", {})
        assert refused.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
        (tmp_path / "release").touch()
        held.result()


def test_at_the_cap_the_durable_runner_invocation_waits_for_an_environment(tmp_path):
    with local_lambda(tmp_path, probe("Durable", durable=DURABLE), concurrency=1) as aws:
        runner = create_lambda_client(aws.endpoint.url, REGION)  # marks its invokes as handler invocations
        hold = json.dumps({"hold": str(tmp_path)}).encode()
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(runner.invoke, FunctionName="Durable:live", Payload=hold)
            poll(lambda: started(tmp_path, 1), what="the first invocation to start")
            second = pool.submit(runner.invoke, FunctionName="Durable:live", Payload=hold)
            waiting = poll(
                lambda: [r for r in aws.records() if r["phase"] == "waiting"], what="the second to wait"
            )
            (tmp_path / "release").touch()
            answers = [json.loads(f.result()["Payload"].read()) for f in (first, second)]
        assert len(waiting) == 1
        assert answers[0]["pid"] == answers[1]["pid"]  # the second ran in the environment the first freed
        assert answers[1]["invocations"] == 2


def test_a_failing_event_invocation_is_retried_as_lambda_retries_asynchronous_invocations(tmp_path):
    with local_lambda(tmp_path, probe()) as aws:
        queued = aws.call("Probe", {"fail": True}, InvocationType="Event")
        request_id = queued["ResponseMetadata"]["RequestId"]
        ends = poll(lambda: e if len(e := aws.of(request_id, "end")) == 3 else None, what="3 attempts")
        assert [e["outcome"] for e in ends] == ["function-error"] * 3  # 1 + MaximumRetryAttempts (2)
        assert aws.of(request_id, "retries-exhausted") != []


def test_a_handler_that_cannot_be_imported_fails_each_invocation_as_lambda_reports_it(tmp_path):
    with local_lambda(tmp_path, probe(handler="no_such_module.handler")) as aws:
        answer = aws.call("Probe", {})
        assert answer.get("FunctionError") == "Unhandled"
        error = json.loads(answer["Payload"].read())
        assert error["errorType"] == "Runtime.ImportModuleError"
        assert error["errorMessage"].startswith("Unable to import module 'no_such_module'")


@pytest.mark.parametrize("name", ["Durable", lambda_arn("Durable"), f"{ACCOUNT}:function:Durable"])
def test_a_durable_function_is_not_invoked_by_an_unqualified_name_or_arn(tmp_path, name):
    with local_lambda(tmp_path, probe("Durable", durable=DURABLE)) as aws:
        with pytest.raises(ClientError) as refused:
            aws.call(name, {}, InvocationType="Event")
        error = refused.value.response
        assert error["Error"]["Code"] == "InvalidParameterValueException"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error["Error"]["Message"] == UNQUALIFIED
        assert aws.started == []


@pytest.mark.parametrize(
    ("name", "qualifier", "invoked_as"),
    [
        ("Durable:live", None, "Durable:live"),
        ("Durable", "$LATEST", "Durable:$LATEST"),
        (lambda_arn("Durable", "3"), None, "Durable:3"),
    ],
)
def test_a_durable_function_invoked_by_a_version_or_alias_starts_an_execution(
    tmp_path, name, qualifier, invoked_as
):
    with local_lambda(tmp_path, probe("Durable", durable=DURABLE)) as aws:
        extra = {"Qualifier": qualifier} if qualifier else {}
        answer = aws.call(name, {}, InvocationType="Event", **extra)
        assert answer["StatusCode"] == 202
        assert answer["DurableExecutionArn"].startswith(lambda_arn(invoked_as))
        assert aws.started == [invoked_as]
