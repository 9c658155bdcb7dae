"""ECS API rules that moto 5.2.5 does not enforce, enforced on the local cloud's moto ECS.

The local cloud is worth exactly what it refuses: each rule below quotes where it comes from, the
botocore ECS service model (``botocore/data/ecs/2014-11-13/service-2.json``, "the model" below) or
an AWS page, and answers with the error ECS answers. moto serves the API; ``install`` puts these
rules in front of its RunTask, ListTasks, DescribeTasks and StopTask for one ECS backend (the local
cloud's), and leaves every other backend (the component tests' ``mock_aws``) as moto has it.

What ECS does that we could not pin down from the model or the docs is said where it matters.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.ecs.exceptions import EcsClientException, InvalidParameterException, TaskDefinitionNotFoundException
from moto.ecs.responses import DESCRIBE_TASKS_TAGS, EC2ContainerServiceResponse

from aws_adapters.ecs import DESCRIBE_TASKS_MAX
from local.rates import TokenRate

# -- the rules, as pure checks of one request ---------------------------------------------------

# ListTasksRequest.startedBy: "When you specify startedBy as the filter, it must be the only filter
# that you use." ECS answers InvalidParameterException "cannot specify startedBy with other
# arguments" (reported for family and launchType in aws/aws-sdk-go-v2#1893). cluster is where to
# look, not a filter (the default cluster is assumed without it), and nextToken/maxResults page.
# desiredStatus counts as a filter here as the model words it ("The task desired status to use when
# filtering"); we have not seen ECS's answer for that combination itself.
LIST_TASKS_FILTERS = (
    "containerInstance",
    "family",
    "serviceName",
    "desiredStatus",
    "launchType",
    "daemonName",
)
STARTED_BY_WITH_OTHER_FILTERS = "cannot specify startedBy with other arguments"
# ListTasksRequest.desiredStatus: "The default status filter is RUNNING".
DEFAULT_DESIRED_STATUS = "RUNNING"

# RunTaskRequest.startedBy: "Up to 128 letters (uppercase and lowercase), numbers, hyphens (-),
# forward slash (/), and underscores (_) are allowed." (ECS's own error text is not documented.)
STARTED_BY = re.compile(r"[A-Za-z0-9_/-]{0,128}")
# RunTaskRequest.clientToken: "Up to 64 characters are allowed. The valid characters are characters
# in the range of 33-126, inclusive." ECS_Idempotency.html (AmazonECS/latest/APIReference): a token
# is idempotent per cluster; the same token in another cluster is another request.
CLIENT_TOKEN_MAX = 64
CLIENT_TOKEN_CHARS = range(33, 127)
# RunTaskRequest.overrides: "A total of 8192 characters are allowed for overrides. This limit
# includes the JSON formatting characters of the override structure." ECS answers
# InvalidParameterException "Container Overrides length must be at most 8192" (seen in
# convox/rack#1906, aws-samples/sample-autonomous-cloud-coding-agents#502). What ECS counts exactly
# is not documented: we count the compact JSON of the whole overrides structure, as
# ecs_contract.limits.check_overrides does (botocore sends it with a space after ':' and ',').
OVERRIDES_MAX_CHARS = 8192
OVERRIDES_TOO_LONG = f"Container Overrides length must be at most {OVERRIDES_MAX_CHARS}"

# Fargate's task sizes, AmazonECS/latest/developerguide/task-cpu-memory-error.html ("For tasks
# hosted on Fargate, the following table shows the valid CPU and memory combinations"), memory in
# MiB: 256 -> 512, 1024, 2048; 512 -> 1 GB..4 GB, 1024 -> 2 GB..8 GB, 2048 -> 4 GB..16 GB and
# 4096 -> 8 GB..30 GB, in 1 GB steps; 8192 -> 16 GB..60 GB in 4 GB steps; 16384 -> 32 GB..120 GB in
# 8 GB steps (these two need Linux platform 1.4.0 or later, which LATEST is). Written here apart from
# ecs_contract.overrides on purpose: tests/unit/test_overrides.py holds the two tables to each other.
FARGATE_TASK_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}
# What ECS answers for a pair outside the table, as RegisterTaskDefinition answers it (ClientException
# "No Fargate configuration exists for given values: 512 CPU, 512 memory. See the Amazon ECS
# documentation for the valid values.", seen through CloudFormation in towardsthecloud/
# aws-cdk-examples#1). What RunTask answers for the same pair in its overrides we have not found
# written down: we answer as RegisterTaskDefinition does.
NO_FARGATE_CONFIGURATION = (
    "No Fargate configuration exists for given values: {cpu} CPU, {memory} memory. "
    "See the Amazon ECS documentation for the valid values."
)
# botocore ECS model, EphemeralStorage.sizeInGiB: "The minimum supported value is 21 GiB and the
# maximum supported value is 200 GiB." (TaskOverride.ephemeralStorage: "The ephemeral storage setting
# override for the task"). ECS's own error text for it we have not found; the code is our guess.
EPHEMERAL_STORAGE_GIB = range(21, 200 + 1)


# DescribeTasks: "Currently, stopped tasks appear in the returned results for at least one hour."
# After that a task is answered in failures[] with reason MISSING ("The specified task wasn't
# found", api_failures_messages.html), and StopTask answers InvalidParameterException "The
# referenced task was not found." (as seen in griptape-ai/griptape-nodes-engine#1454).
MISSING = "MISSING"
TASK_NOT_FOUND = "The referenced task was not found."

# DeregisterTaskDefinition: "You can't use an INACTIVE task definition to run new tasks" (a window
# of up to 10 minutes aside, not modelled). ECS answers InvalidParameterException "TaskDefinition is
# inactive" (as seen in DefangLabs/defang#775); moto runs it. A family alone means its latest ACTIVE
# revision: checked for an explicit revision (family:revision or its ARN) only.
TASK_DEFINITION_INACTIVE = "TaskDefinition is inactive"


# -- RunTask's rate limit -------------------------------------------------------------------------
# request-throttling.html (Amazon ECS API Reference, "Request throttling for the Amazon ECS API"):
# ECS throttles every API "for each AWS account on a per-Region basis" with a token bucket, "the
# bucket maximum capacity signifies the burst rate and the bucket refill rate is the sustained rate".
# RunTask is a "Cluster resource modify action" (with StartTask, StopTask, ...): bucket 100, refill
# 40 a second; and "AWS Fargate additionally throttles Amazon ECS RunTask API" (throttling.html,
# Amazon ECS Developer Guide, "AWS Fargate throttling quotas"): the tasks it launches, bucket 100,
# refill 20 a second. Our RunTask starts one task, so the tighter of the two holds: 100, then 20 a
# second. We model that bucket for RunTask alone (StopTask's share of its own bucket is not).
# "If you exceed an API throttling quota, you get the ThrottlingException error code", answered as
# "Rate exceeded (Service: AmazonECS; Status Code: 400; Error Code: ThrottlingException ...)". The
# ECS model (botocore/data/ecs/2014-11-13/service-2.json) lists no ThrottlingException: it is the
# generic AWS JSON-protocol answer, which botocore's retry handlers know by code
# (botocore/retries/standard.py, _THROTTLED_ERROR_CODES). Whether Fargate's own bucket answers the
# same code when it alone is empty is not documented; we answer the same.
THROTTLED = "Rate exceeded"


# What ECS allows Fargate RunTask calls of one task each, per account and Region (see above).
RUN_TASK_RATE = TokenRate(burst=100, per_second=Fraction(20))


class ThrottlingException(ServiceException):
    code = "ThrottlingException"

    def __init__(self) -> None:
        super().__init__(THROTTLED)


@dataclass
class _Bucket:
    tokens: Fraction
    at: datetime

    def take(self, rate: TokenRate, now: datetime) -> bool:
        """Refill for the time since the last call (never above the burst), then take one token."""
        elapsed = Fraction(max(now - self.at, timedelta()) // timedelta(microseconds=1), 10**6)
        self.tokens = min(Fraction(rate.burst), self.tokens + elapsed * rate.per_second)
        self.at = max(self.at, now)  # a clock read out of order refills nothing twice
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class ConflictException(ServiceException):
    """RunTask: "The provided clientToken is already in use with a different RunTask request. The
    resourceIds are the existing task ARNs which are already associated with the clientToken." """

    code = "ConflictException"

    def __init__(self, message: str, resource_ids: list[str]) -> None:
        super().__init__(message)
        self.resource_ids = resource_ids  # serialized as resourceIds (the model's member)


def check_list_tasks(request: Mapping[str, Any]) -> None:
    if request.get("startedBy") is not None and any(request.get(f) is not None for f in LIST_TASKS_FILTERS):
        raise InvalidParameterException(STARTED_BY_WITH_OTHER_FILTERS)


def overrides_chars(overrides: Any) -> int:
    return len(json.dumps(overrides, separators=(",", ":")))


def check_run_task(request: Mapping[str, Any]) -> None:
    started_by = request.get("startedBy")
    if started_by is not None and not STARTED_BY.fullmatch(started_by):
        raise InvalidParameterException(
            "startedBy may have up to 128 letters, numbers, hyphens (-), forward slashes (/) and "
            "underscores (_)"
        )
    token = request.get("clientToken")
    if token is not None and not (
        0 < len(token) <= CLIENT_TOKEN_MAX and all(ord(c) in CLIENT_TOKEN_CHARS for c in token)
    ):
        raise InvalidParameterException(
            f"clientToken may have up to {CLIENT_TOKEN_MAX} characters in the range 33-126"
        )
    overrides = request.get("overrides")
    if overrides is not None:
        check_overrides(overrides)
    check_tags(request.get("tags") or [])


# RunTaskRequest.tags: "Maximum number of tags per resource - 50", keys up to 128 and values up to
# 256 Unicode characters, each key once, no aws: prefix on keys or values (the model's words). ECS
# answers InvalidParameterException; its words for each we have not seen: ours name the rule.
TAGS_MAX, TAG_KEY_MAX, TAG_VALUE_MAX = 50, 128, 256


def check_tags(tags: list[Mapping[str, Any]]) -> None:
    if len(tags) > TAGS_MAX:
        raise InvalidParameterException(f"A resource can have at most {TAGS_MAX} tags.")
    keys = [str(tag.get("key", "")) for tag in tags]
    if len(set(keys)) != len(keys):
        raise InvalidParameterException("Each tag key must be unique.")
    for tag in tags:
        key, value = str(tag.get("key", "")), str(tag.get("value", ""))
        if not 1 <= len(key) <= TAG_KEY_MAX or len(value) > TAG_VALUE_MAX:
            raise InvalidParameterException(
                f"Tag keys are 1 to {TAG_KEY_MAX} characters and values at most {TAG_VALUE_MAX}."
            )
        if key.lower().startswith("aws:") or value.lower().startswith("aws:"):
            raise InvalidParameterException("Tag keys and values may not begin with aws:.")


def check_overrides(overrides: Mapping[str, Any]) -> None:
    """RunTaskRequest.overrides (a TaskOverride): what ECS refuses in it whatever the task definition."""
    if overrides_chars(overrides) > OVERRIDES_MAX_CHARS:
        raise InvalidParameterException(OVERRIDES_TOO_LONG)
    storage = overrides.get("ephemeralStorage")
    if storage is not None and storage.get("sizeInGiB") not in EPHEMERAL_STORAGE_GIB:
        raise InvalidParameterException(
            f"Invalid ephemeralStorage sizeInGiB {storage.get('sizeInGiB')}: the minimum supported "
            f"value is {EPHEMERAL_STORAGE_GIB.start} GiB and the maximum {EPHEMERAL_STORAGE_GIB[-1]} GiB."
        )


def fargate_has(cpu: int, memory: int) -> bool:
    """Whether Fargate runs a task of `cpu` CPU units and `memory` MiB (FARGATE_TASK_SIZES)."""
    return memory in FARGATE_TASK_SIZES.get(cpu, ())


def check_task_size(cpu: str, memory: str) -> None:
    """The cpu/memory pair a Fargate task runs with (the overrides', else the task definition's)."""
    if not (cpu.isdigit() and memory.isdigit() and fargate_has(int(cpu), int(memory))):
        raise EcsClientException(NO_FARGATE_CONFIGURATION.format(cpu=cpu, memory=memory))


# The Fargate capacity providers: "available to all accounts. To use them, all you need to do is
# associate them with a cluster" (fargate-capacity-providers.html).
FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")


# RunTaskRequest.capacityProviderStrategy: "A capacity provider strategy can contain a maximum of
# 20 capacity providers", and the providers must be associated with the cluster first
# (fargate-capacity-providers.html: "To use them, all you need to do is associate them with a
# cluster"; the template's Cluster.CapacityProviders). ECS answers InvalidParameterException "The
# specified capacity provider strategy cannot contain a capacity provider that is not associated
# with the cluster. Associate the capacity provider with the cluster or specify a valid capacity
# provider and try again." (as reported by users, e.g. for FARGATE_SPOT in dask/dask-cloudprovider
# #328); moto runs any provider on any cluster.
STRATEGY_MAX_PROVIDERS = 20
PROVIDER_NOT_ASSOCIATED = (
    "The specified capacity provider strategy cannot contain a capacity provider that is not associated "
    "with the cluster. Associate the capacity provider with the cluster or specify a valid capacity "
    "provider and try again."
)
# What RunTask answers when Fargate has no capacity for the task: "Capacity is unavailable at this
# time. Please try again later or in a different availability zone" (AWS re:Post knowledge center,
# ecs-fargate-runtask-capacity). Whether ECS puts it in failures[] or raises it for a Fargate Spot
# strategy we could not pin down: the local cloud answers failures[] (RunTaskResponse.failures),
# and the adapter (aws_adapters.ecs) reads both forms as CapacityUnavailable.
CAPACITY_UNAVAILABLE = (
    "Capacity is unavailable at this time. Please try again later or in a different availability zone"
)


# -- the state ECS keeps: client tokens, and stopped tasks for a while ---------------------------


@dataclass(frozen=True)
class EcsRulesConfig:
    # DescribeTasks keeps stopped tasks "for at least one hour"; the local cloud keeps them exactly
    # this long, so code that relies on an old task still being there fails here too.
    stopped_task_retention: timedelta = timedelta(hours=1)
    # ECS_Idempotency.html: a RunTask client token lives 24 hours. The page then makes the maximum the
    # lesser of 24 hours and a second bound we could not read in full: not enforced.
    client_token_ttl: timedelta = timedelta(hours=24)
    # RunTask calls per account and Region: AWS's numbers unless a test or a benchmark says otherwise.
    run_task_rate: TokenRate = RUN_TASK_RATE


@dataclass
class _Issued:
    """What one clientToken started: the request (without the token) and its tasks."""

    request: dict[str, Any]
    tasks: list[Any]
    at: datetime


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class EcsRules:
    config: EcsRulesConfig = field(default_factory=EcsRulesConfig)
    clock: Callable[[], datetime] = _utcnow  # tests skip time ahead instead of waiting an hour
    # Whether Fargate Spot has no capacity for a task of this startedBy (the fault "spot-no-capacity",
    # local/faults.py): asked once per RunTask on FARGATE_SPOT.
    spot_unavailable: Callable[[str | None], bool] = lambda started_by: False
    _tokens: dict[tuple[str, str], _Issued] = field(default_factory=dict)
    _stopped_seen: dict[str, datetime] = field(default_factory=dict)
    _run_task_buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)

    # Each handler runs under the backend's table lock (``install``) and gets moto's own handler as
    # `moto` for the part moto does right.
    def run_task(self, response: EC2ContainerServiceResponse, moto: Callable[[], Any]) -> Any:
        self._throttle_run_task(response.ecs_backend)  # before any check: the API's front door
        request = _request(response)
        check_run_task(request)
        if _is_inactive_revision(response.ecs_backend, str(request.get("taskDefinition", ""))):
            raise InvalidParameterException(TASK_DEFINITION_INACTIVE)
        _check_capacity_providers(response.ecs_backend, request)
        if request.get("launchType") == "FARGATE" or _fargate_providers(request):
            _check_fargate_size(response.ecs_backend, request)
        if "FARGATE_SPOT" in _fargate_providers(request) and self.spot_unavailable(request.get("startedBy")):
            return ActionResult({"tasks": [], "failures": [{"reason": CAPACITY_UNAVAILABLE}]})
        token = request.get("clientToken")
        if token is None:
            return _sized(response.ecs_backend, request, moto())
        backend = response.ecs_backend
        key = (backend._get_cluster(request.get("cluster") or "default").name, token)
        now = self.clock()
        ttl = self.config.client_token_ttl
        self._tokens = {k: v for k, v in self._tokens.items() if now - v.at < ttl}
        # ECS_Idempotency.html: "If you retry a request that completed successfully using the same
        # client token and the same parameters, the retry succeeds without performing any further
        # actions"; the same token with other parameters (Region and Availability Zone aside) fails
        # with ConflictException. We compare the request as sent, so leaving out a parameter that has
        # a default is "a change" here; ECS may be kinder.
        same = {k: v for k, v in request.items() if k != "clientToken"}
        issued = self._tokens.get(key)
        if issued is not None:
            if issued.request != same:
                arns = [t.task_arn for t in issued.tasks]
                raise ConflictException(
                    "The specified client token has already been used in a different RunTask request.", arns
                )
            return ActionResult({"tasks": issued.tasks, "failures": []})
        result = _sized(backend, request, moto())
        self._tokens[key] = _Issued(same, list(result.result["tasks"]), now)
        return result

    def _throttle_run_task(self, backend: Any) -> None:
        now, rate = self.clock(), self.config.run_task_rate
        key = (str(backend.account_id), str(backend.region_name))  # "per account, per Region"
        bucket = self._run_task_buckets.setdefault(key, _Bucket(Fraction(rate.burst), now))
        if not bucket.take(rate, now):
            raise ThrottlingException()

    def list_tasks(self, response: EC2ContainerServiceResponse, moto: Callable[[], Any]) -> Any:
        request = _request(response)
        check_list_tasks(request)
        backend = response.ecs_backend
        self.forget_expired(backend)
        cluster = backend._get_cluster(request.get("cluster") or "default")
        # moto lists every task when desiredStatus is left out, and matches the cluster by substring.
        tasks = backend.list_tasks(
            cluster.arn,
            request.get("containerInstance"),
            request.get("family"),
            request.get("startedBy"),
            request.get("serviceName"),
            request.get("desiredStatus") or DEFAULT_DESIRED_STATUS,
        )
        launch_type = request.get("launchType")
        arns = [
            t.task_arn
            for t in tasks
            if t.cluster_arn == cluster.arn and (launch_type is None or t.launch_type == launch_type)
        ]
        return ActionResult({"taskArns": arns})

    def describe_tasks(self, response: EC2ContainerServiceResponse, moto: Callable[[], Any]) -> Any:
        request = _request(response)
        backend = response.ecs_backend
        self.forget_expired(backend)
        cluster = backend._get_cluster(request.get("cluster") or "default")
        wanted = request.get("tasks") or []
        if not wanted:
            raise InvalidParameterException("Tasks cannot be empty.")  # moto's and ECS's words
        # botocore's ECS model, DescribeTasksRequest.tasks: "A list of up to 100 task IDs or full ARN
        # entries"; moto takes any number. The words of ECS's refusal are ours (not verified).
        if len(wanted) > DESCRIBE_TASKS_MAX:
            raise InvalidParameterException(f"Tasks cannot have more than {DESCRIBE_TASKS_MAX} entries.")
        # moto looks in every cluster and matches task ids by substring; ECS looks in the cluster it
        # is given and answers the others in failures[] (DescribeTasksResponse.failures).
        table = backend.tasks.get(cluster.name, {})
        tasks, failures = [], []
        for ident in wanted:
            task = _find(table, ident)
            if task is None:
                failures.append({"arn": ident, "reason": MISSING})
            else:
                task.advance()  # moto's state manager, as moto's own DescribeTasks does
                tasks.append(task)
        if "TAGS" in (request.get("include") or []):
            response._include_in_response(DESCRIBE_TASKS_TAGS)
        else:
            response._exclude_from_response(DESCRIBE_TASKS_TAGS)
        return ActionResult({"tasks": tasks, "failures": failures})

    def stop_task(self, response: EC2ContainerServiceResponse, moto: Callable[[], Any]) -> Any:
        request = _request(response)
        backend = response.ecs_backend
        self.forget_expired(backend)
        cluster = backend._get_cluster(request.get("cluster") or "default")
        # moto raises a bare Exception (a 500, which a client retries) for a task it does not know.
        if _find(backend.tasks.get(cluster.name, {}), request.get("task") or "") is None:
            raise InvalidParameterException(TASK_NOT_FOUND)
        return moto()

    def forget_expired(self, backend: Any) -> None:
        """Drop the tasks stopped longer ago than the retention, as ECS stops reporting them."""
        now = self.clock()
        for table in backend.tasks.values():
            for arn, task in list(table.items()):
                if task.last_status != "STOPPED":
                    continue
                # The task agent stamps stoppedAt; a task moto stopped alone counts from when we saw it.
                stopped_at = getattr(task, "stopped_at", None) or self._stopped_seen.setdefault(arn, now)
                if now - stopped_at >= self.config.stopped_task_retention:
                    del table[arn]
                    self._stopped_seen.pop(arn, None)


def _request(response: EC2ContainerServiceResponse) -> dict[str, Any]:
    """The request's JSON body as the client sent it (ECS speaks awsJson1_1)."""
    body = response.body
    parsed = json.loads(body) if body else {}
    return parsed if isinstance(parsed, dict) else {}


def _is_inactive_revision(backend: Any, task_definition: str) -> bool:
    family, _, revision = task_definition.rsplit("/", 1)[-1].partition(":")
    found = backend.task_definitions.get(family, {}).get(int(revision)) if revision.isdigit() else None
    return found is not None and found.status == "INACTIVE"


def _fargate_providers(request: Mapping[str, Any]) -> list[str]:
    """The Fargate capacity providers a RunTask request's strategy names."""
    strategy = request.get("capacityProviderStrategy") or []
    return [
        item.get("capacityProvider") for item in strategy if item.get("capacityProvider") in FARGATE_PROVIDERS
    ]


def _check_capacity_providers(backend: Any, request: Mapping[str, Any]) -> None:
    strategy = request.get("capacityProviderStrategy") or []
    if len(strategy) > STRATEGY_MAX_PROVIDERS:
        raise InvalidParameterException(
            f"A capacity provider strategy can contain a maximum of {STRATEGY_MAX_PROVIDERS} "
            "capacity providers."
        )
    if not strategy:
        return
    cluster = backend._get_cluster(request.get("cluster") or "default")
    associated = set(cluster.capacity_providers or ())
    if any(item.get("capacityProvider") not in associated for item in strategy):
        raise InvalidParameterException(PROVIDER_NOT_ASSOCIATED)


def _check_fargate_size(backend: Any, request: Mapping[str, Any]) -> None:
    """TaskOverride.cpu and .memory replace the task definition's: the pair that results must be one
    of Fargate's. A task definition moto does not know is left to moto's own answer."""
    overrides = request.get("overrides") or {}
    if overrides.get("cpu") is None and overrides.get("memory") is None:
        return  # the task definition's own pair, which RegisterTaskDefinition checked
    try:
        definition = backend.describe_task_definition(str(request.get("taskDefinition", "")))
    except TaskDefinitionNotFoundException:
        return
    check_task_size(
        str(overrides.get("cpu") or definition.cpu), str(overrides.get("memory") or definition.memory)
    )


def _sized(backend: Any, request: Mapping[str, Any], result: Any) -> Any:
    """The tasks RunTask started, with their size: Task.cpu and Task.memory (botocore ECS model,
    Task: "as expressed in a task definition", required for Fargate), which TaskOverride.cpu and
    .memory replace. moto's Task has neither; Fargate bills by them (ecs_contract.cost)."""
    overrides = request.get("overrides") or {}
    try:
        definition = backend.describe_task_definition(str(request.get("taskDefinition", "")))
    except TaskDefinitionNotFoundException:
        return result
    for task in result.result["tasks"]:
        task.cpu = _size(overrides.get("cpu") or definition.cpu)
        task.memory = _size(overrides.get("memory") or definition.memory)
    return result


def _size(value: Any) -> str | None:
    return None if value is None else str(value)


def _find(table: Mapping[str, Any], ident: str) -> Any:
    """DescribeTasksRequest.tasks: "A list of up to 100 task IDs or full ARN entries"."""
    if ident in table:
        return table[ident]
    return next((t for t in table.values() if t.id == ident), None)


# -- wiring into moto ----------------------------------------------------------------------------

_ATTACHED = "_local_ecs_rules"
_HANDLERS = ("run_task", "list_tasks", "describe_tasks", "stop_task")
_patch_lock = threading.Lock()
_patched = False


def install(backend: Any, rules: EcsRules, lock: threading.RLock) -> None:
    """Enforce `rules` on this ECS backend's API, each call under `lock` (the backend's table lock).

    The rules live on the backend object, so moto's reset (a new account state) drops them."""
    setattr(backend, _ATTACHED, (rules, lock))
    _patch_responses()


def _patch_responses() -> None:
    global _patched
    with _patch_lock:
        if _patched:
            return
        for name in _HANDLERS:
            setattr(
                EC2ContainerServiceResponse, name, _handler(name, getattr(EC2ContainerServiceResponse, name))
            )
        _patched = True


def _handler(name: str, moto: Callable[[EC2ContainerServiceResponse], Any]) -> Callable[..., Any]:
    def handle(self: EC2ContainerServiceResponse) -> Any:
        attached = getattr(self.ecs_backend, _ATTACHED, None)
        if attached is None:
            return moto(self)
        rules, lock = attached
        with lock:
            return getattr(rules, name)(self, lambda: moto(self))

    handle.__name__ = name
    return handle
