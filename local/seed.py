"""Create template.yaml's cloud resources in moto and name them, so the template resolves locally."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from local.template import Names, Template, load

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


def client(service: str, endpoint_url: str, **config: Any) -> Any:
    """A boto3 client for the local account, at one of the local cloud's endpoints."""
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(**config) if config else None,
    )


def lambda_arn(name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def seed(
    clients: Any, stack: str, parameters: dict[str, Any] | None = None, overlays: tuple[Path, ...] = ()
) -> Template:
    """Create the cluster, network, bucket, log group, queue, task definition and rules; return the
    template (plus `overlays`, see ``template.load``) resolved against them. ``clients(service)``
    returns a boto3 client bound to moto."""
    ecs, ec2, s3, logs, sqs, events = (clients(s) for s in ("ecs", "ec2", "s3", "logs", "sqs", "events"))
    doc = load(overlays=overlays)
    (cluster,) = [r for r in doc["Resources"].values() if r["Type"] == "AWS::ECS::Cluster"]
    cluster_arn = ecs.create_cluster(
        clusterName=f"{stack}-cluster",
        # The template's associations: RunTask refuses a capacity provider the cluster has not.
        capacityProviders=list(cluster["Properties"].get("CapacityProviders", [])),
    )["cluster"]["clusterArn"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    group = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]
    bucket = f"{stack}-results"
    s3.create_bucket(Bucket=bucket)
    log_group = f"/local/{stack}/worker"
    logs.create_log_group(logGroupName=log_group)
    queue_url = sqs.create_queue(QueueName=f"{stack}-dead-letters")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    # Functions are named by their logical id in the local cloud.
    functions = {k: v for k, v in doc["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    aliases = {
        f"{name}.Alias": lambda_arn(name, f["Properties"]["AutoPublishAlias"])
        for name, f in functions.items()
        if "AutoPublishAlias" in f["Properties"]
    }
    refs = {
        "Cluster": cluster_arn.rsplit("/", 1)[1],
        "Cluster.Arn": cluster_arn,
        "PublicSubnetA": subnets[0],
        "PublicSubnetB": subnets[-1],
        "WorkerSecurityGroup": group,
        "ResultsBucket": bucket,
        "ResultsBucket.Arn": f"arn:aws:s3:::{bucket}",
        "WorkerLogGroup": log_group,
        "WorkerLogGroup.Arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{log_group}:*",
        "WorkerRepository": f"{stack}-worker",
        "DeadLetterQueue": queue_url,
        "DeadLetterQueue.Arn": queue_arn,
        "TaskExecutionRole.Arn": f"arn:aws:iam::{ACCOUNT}:role/{stack}-task-execution",
        "WorkerTaskRole.Arn": f"arn:aws:iam::{ACCOUNT}:role/{stack}-worker-task",
        "WorkerRepository.RepositoryUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{stack}-worker",
        **{name: name for name in functions},
        **{f"{name}.Arn": lambda_arn(name) for name in functions},
        **aliases,
    }
    template = Template(
        Names(stack=stack, region=REGION, account=ACCOUNT, refs=refs, parameters=parameters or {}), doc
    )
    template.check_rules()  # as CloudFormation does before it creates anything

    for logical_id in template.of_type("AWS::ECS::TaskDefinition"):
        td = template.task_definition(logical_id)
        registered = ecs.register_task_definition(
            family=td.family,
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu=td.cpu,
            memory=td.memory,
            # RunTask passes these roles: the caller needs iam:PassRole on them (local/authz.py).
            **({"taskRoleArn": td.task_role_arn} if td.task_role_arn else {}),
            **({"executionRoleArn": td.execution_role_arn} if td.execution_role_arn else {}),
            containerDefinitions=[
                {
                    "name": c.name,
                    "image": f"{stack}-worker:local",
                    "memory": c.memory_mb,
                    "environment": [{"name": k, "value": v} for k, v in c.environment.items()],
                }
                for c in td.containers
            ],
        )
        # Ref of a task definition is its ARN with the revision, known once it is registered (as
        # CloudFormation creates it before the functions whose environment names it).
        refs[logical_id] = registered["taskDefinition"]["taskDefinitionArn"]
    for function in template.functions().values():
        for rule in function.rules:
            events.put_rule(Name=rule.name, EventPattern=json.dumps(rule.pattern), State="ENABLED")
            target: dict[str, Any] = {
                "Id": function.logical_id,
                "Arn": lambda_arn(function.logical_id),
                "RetryPolicy": {
                    "MaximumRetryAttempts": rule.retry_attempts,
                    "MaximumEventAgeInSeconds": rule.max_event_age_seconds,
                },
            }
            if rule.dead_letter_arn:
                target["DeadLetterConfig"] = {"Arn": rule.dead_letter_arn}
            events.put_targets(Rule=rule.name, Targets=[target])
    return template
