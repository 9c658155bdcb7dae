"""The ECS and network pieces the in-moto benches and tests need: a cluster and a Fargate "worker" task
definition shaped like template.yaml's, and the default VPC's first subnet and security group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WorkerCluster:
    arn: str
    subnet: str
    security_group: str

    def network(self) -> dict[str, Any]:
        """RunTask's networkConfiguration for this cluster's subnet and security group."""
        return {"awsvpcConfiguration": {"subnets": [self.subnet], "securityGroups": [self.security_group]}}


def worker_cluster(ecs: Any, ec2: Any, name: str = "bench") -> WorkerCluster:
    arn = ecs.create_cluster(clusterName=name)["cluster"]["clusterArn"]
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
