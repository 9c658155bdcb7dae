"""The ECS and network pieces the in-moto benches and tests need: a cluster and a Fargate "worker" task
definition shaped like template.yaml's, and the default VPC's first subnet and security group."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import boto3
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ecs.models import ecs_backends

from local.ecs_rules import EcsRules, install
from testkit.template import template

BUCKET = "results-bucket"  # the results bucket of an in-moto world (the component tests create it)


@dataclass(frozen=True)
class WorkerCluster:
    arn: str
    subnet: str
    security_group: str

    def network(self) -> dict[str, Any]:
        """RunTask's networkConfiguration for this cluster's subnet and security group."""
        return {"awsvpcConfiguration": {"subnets": [self.subnet], "securityGroups": [self.security_group]}}


def worker_cluster(ecs: Any, ec2: Any, name: str = "bench") -> WorkerCluster:
    # The capacity providers the template associates: RunTask names one for every task.
    providers = template()["Resources"]["Cluster"]["Properties"]["CapacityProviders"]
    arn = ecs.create_cluster(clusterName=name, capacityProviders=list(providers))["cluster"]["clusterArn"]
    ecs.register_task_definition(
        family="worker",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "worker", "image": "worker:latest", "memory": 512}],
    )
    return WorkerCluster(
        arn=arn,
        subnet=ec2.describe_subnets()["Subnets"][0]["SubnetId"],
        security_group=ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"],
    )


def moto_worker_cluster(name: str, rules: EcsRules | None = None) -> WorkerCluster:
    """Inside mock_aws: a cluster and a Fargate "worker" task definition shaped like template.yaml's,
    with the local cloud's ECS rules in front of moto (local/ecs_rules.py; mock_aws's reset drops them):
    `rules`, or AWS's as EcsRules() has them."""
    ecs = boto3.client("ecs")
    install(ecs_backends[DEFAULT_ACCOUNT_ID][ecs.meta.region_name], rules or EcsRules(), threading.RLock())
    return worker_cluster(ecs, boto3.client("ec2"), name)
