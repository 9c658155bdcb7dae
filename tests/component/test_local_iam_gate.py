"""moto behind the local cloud's IAM gate (local/authz.py), as the local cloud runs it: requests
signed with a role's credentials are authorized, and refused in each service's own error shape."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.moto_api import state_manager

from local.authz import AuthorizingMotoServer, Place, moto_task_definitions
from local.iam import Condition, Credentials, Effect, LocalIam, Statement
from local.seed import ACCOUNT, REGION, seed
from local.template import Template

STACK = "iam-gate"


@dataclass
class World:
    url: str
    iam: LocalIam
    template: Template

    def client(self, service: str, credentials: Credentials | None = None) -> Any:
        keys = (
            {
                "aws_access_key_id": credentials.access_key_id,
                "aws_secret_access_key": credentials.secret_access_key,
                "aws_session_token": credentials.session_token,
            }
            if credentials
            else {"aws_access_key_id": "admin", "aws_secret_access_key": "admin"}
        )
        return boto3.client(service, endpoint_url=self.url, region_name=REGION, **keys)

    def role(self, name: str) -> Credentials:
        return self.iam.credentials(name)

    @property
    def bucket(self) -> str:
        return str(self.template.r.names.refs["ResultsBucket"])

    @property
    def cluster(self) -> str:
        return str(self.template.r.names.refs["Cluster.Arn"])


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    place = Place(ACCOUNT, REGION)
    server = AuthorizingMotoServer(place, moto_task_definitions(place))
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    state_manager.set_transition("ecs::task", {"progression": "manual", "times": sys.maxsize})

    def admin(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=url,
            region_name=REGION,
            aws_access_key_id="admin",
            aws_secret_access_key="admin",
        )

    template = seed(admin, STACK)
    iam = LocalIam.from_template(template)
    server.gate.iam = iam
    try:
        yield World(url, iam, template)
    finally:
        state_manager.unset_transition("ecs::task")
        server.stop()


@pytest.fixture
def restore(world: World) -> Iterator[None]:
    yield
    world.iam.restore()


def run_task(world: World, credentials: Credentials) -> Any:
    orchestrator = world.template.functions()["Orchestrator"].environment
    subnets = orchestrator["SUBNETS"].split(",")
    return world.client("ecs", credentials).run_task(
        cluster=world.cluster,
        taskDefinition=orchestrator["TASK_DEFINITION"],
        launchType="FARGATE",
        count=1,
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": subnets, "securityGroups": [orchestrator["SECURITY_GROUPS"]]}
        },
    )


def error(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = e.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"].get("Message", ""),
    )


def test_the_orchestrator_may_run_the_worker_task_and_describe_and_stop_it(world: World) -> None:
    orchestrator = world.role("OrchestratorRole")
    task = run_task(world, orchestrator)["tasks"][0]
    ecs = world.client("ecs", orchestrator)
    assert (
        ecs.describe_tasks(cluster=world.cluster, tasks=[task["taskArn"]])["tasks"][0]["taskArn"]
        == task["taskArn"]
    )
    ecs.stop_task(cluster=world.cluster, task=task["taskArn"], reason="test")


def test_run_task_without_its_statement_is_access_denied_as_ecs_answers(world: World, restore: None) -> None:
    world.iam.drop(["Orchestrator/RunWorkerTasks"])
    with pytest.raises(ClientError) as e:
        run_task(world, world.role("OrchestratorRole"))
    code, status, message = error(e)
    # botocore ECS model: AccessDeniedException has no httpStatusCode, so JSON's 400.
    assert (code, status) == ("AccessDeniedException", 400)
    assert message == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{STACK}-OrchestratorRole/Orchestrator is not authorized "
        f"to perform: ecs:RunTask on resource: arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/"
        f"{STACK}-worker:1 because no identity-based policy allows the ecs:RunTask action"
    )


def test_run_task_needs_pass_role_on_the_task_definitions_roles(world: World, restore: None) -> None:
    world.iam.drop(["Orchestrator/PassWorkerRoles"])
    with pytest.raises(ClientError) as e:
        run_task(world, world.role("OrchestratorRole"))
    code, _, message = error(e)
    assert code == "AccessDeniedException"
    assert f"iam:PassRole on resource: arn:aws:iam::{ACCOUNT}:role/{STACK}-worker-task" in message


def test_the_worker_may_write_only_under_the_results_prefix(world: World) -> None:
    s3 = world.client("s3", world.role("WorkerTaskRole"))
    s3.put_object(Bucket=world.bucket, Key="results/w.json", Body=b"{}")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=world.bucket, Key="elsewhere/w.json", Body=b"{}")
    code, status, message = error(e)
    assert (code, status) == ("AccessDenied", 403)
    assert f'on resource: "arn:aws:s3:::{world.bucket}/elsewhere/w.json"' in message  # S3 quotes it
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=world.bucket, Key="results/w.json")  # it may write, not read
    assert error(e)[:2] == ("AccessDenied", 403)


def test_a_role_reads_what_it_may_read_byte_for_byte(world: World) -> None:
    world.client("s3").put_object(Bucket=world.bucket, Key="results/r.json", Body=b'{"a": 1}')
    s3 = world.client("s3", world.role("CompletionRelayRole"))
    assert s3.get_object(Bucket=world.bucket, Key="results/r.json")["Body"].read() == b'{"a": 1}'
    assert s3.head_object(Bucket=world.bucket, Key="results/r.json")["ContentLength"] == 8


def with_list_bucket(world: World, role: str) -> None:
    """The role also gets the ListWorkerResults statement (ListBucket, s3:prefix results/*)."""
    statement = Statement(
        f"{role}/ListWorkerResults",
        Effect.ALLOW,
        actions=("s3:ListBucket",),
        resources=(f"arn:aws:s3:::{world.bucket}",),
        conditions=(Condition("StringLike", "s3:prefix", ("results/*",)),),
    )
    world.iam.roles[role] = replace(
        world.iam.roles[role], statements=(*world.iam.roles[role].statements, statement)
    )


@pytest.mark.parametrize("read", ["get_object", "head_object"])
def test_a_missing_result_is_403_without_list_bucket_and_404_with_it(world: World, read: str) -> None:
    """botocore S3 model, GetObject "Permissions": without s3:ListBucket a missing key is 403."""
    # Given a role that may read results/* but not list the bucket
    relay = world.role("CompletionRelayRole")
    original = world.iam.roles["CompletionRelayRole"]
    if any(s.id.endswith("/ListWorkerResults") for s in original.statements):
        world.iam.roles["CompletionRelayRole"] = replace(
            original,
            statements=tuple(s for s in original.statements if not s.id.endswith("/ListWorkerResults")),
        )
    try:
        # When it reads a key that does not exist, Then S3 says 403 AccessDenied
        with pytest.raises(ClientError) as e:
            getattr(world.client("s3", relay), read)(Bucket=world.bucket, Key="results/missing.json")
        assert error(e)[:2] == ("AccessDenied" if read == "get_object" else "403", 403)
        # And once it may list the results prefix, the same read is 404 NoSuchKey
        with_list_bucket(world, "CompletionRelayRole")
        with pytest.raises(ClientError) as e:
            getattr(world.client("s3", relay), read)(Bucket=world.bucket, Key="results/missing.json")
        assert error(e)[:2] == ("NoSuchKey" if read == "get_object" else "404", 404)
        # (a key outside the prefix the listing is confined to stays 403 - our model of s3:prefix)
        world.iam.roles["CompletionRelayRole"] = replace(
            world.iam.roles["CompletionRelayRole"],
            statements=(
                *world.iam.roles["CompletionRelayRole"].statements,
                Statement(
                    "x/read-all",
                    Effect.ALLOW,
                    actions=("s3:GetObject",),
                    resources=(f"arn:aws:s3:::{world.bucket}/*",),
                ),
            ),
        )
        with pytest.raises(ClientError) as e:
            getattr(world.client("s3", relay), read)(Bucket=world.bucket, Key="other/missing.json")
        assert error(e)[1] == 403
    finally:
        world.iam.roles["CompletionRelayRole"] = original


def test_the_admin_is_not_restricted(world: World) -> None:
    with pytest.raises(ClientError) as e:
        world.client("s3").get_object(Bucket=world.bucket, Key="results/missing.json")
    assert error(e)[:2] == ("NoSuchKey", 404)
    assert world.client("ecs").list_clusters()["clusterArns"]


def test_the_relay_may_list_tasks_of_our_cluster_only(world: World) -> None:
    ecs = world.client("ecs", world.role("CompletionRelayRole"))
    ecs.list_tasks(cluster=world.cluster, startedBy="durable-ecs/x")
    world.client("ecs").create_cluster(clusterName="someone-elses")
    with pytest.raises(ClientError) as e:
        ecs.list_tasks(cluster="someone-elses")
    code, _, message = error(e)
    assert code == "AccessDeniedException" and "ecs:ListTasks on resource: *" in message


def test_the_relay_sends_to_its_on_failure_destination_with_its_role(world: World, restore: None) -> None:
    sqs = world.client("sqs", world.role("CompletionRelayRole"))
    url = str(world.template.r.names.refs["DeadLetterQueue"])
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    world.iam.drop(["CompletionRelay/CompletionRelayEventInvokeConfigOnFailureSQSPolicy"])
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="{}")
    code, status, message = error(e)
    assert (code, status) == ("AccessDenied", 403)  # SQS is awsQueryCompatible: the query API's code
    assert "sqs:SendMessage on resource: arn:aws:sqs:" in message


def test_an_operation_no_statement_grants_is_denied(world: World) -> None:
    with pytest.raises(ClientError) as e:
        world.client("ecs", world.role("OrchestratorRole")).list_clusters()
    assert error(e)[0] == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        world.client("s3", world.role("OrchestratorRole")).list_buckets()
    assert error(e)[:2] == ("AccessDenied", 403)


def test_a_presigned_url_is_authorized_as_the_role_that_signed_it(world: World) -> None:
    world.client("s3").put_object(Bucket=world.bucket, Key="results/p.json", Body=b"{}")
    worker = world.client("s3", world.role("WorkerTaskRole"))  # may write results, not read them
    url = worker.generate_presigned_url(
        "get_object", Params={"Bucket": world.bucket, "Key": "results/p.json"}
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=10)
    body = e.value.read().decode()
    assert e.value.code == 403 and "<Code>AccessDenied</Code>" in body and "s3:GetObject on resource" in body
    relay = world.client("s3", world.role("CompletionRelayRole"))  # may read results
    url = relay.generate_presigned_url("get_object", Params={"Bucket": world.bucket, "Key": "results/p.json"})
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.read() == b"{}"
