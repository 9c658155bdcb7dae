"""Properties of the completion relay, checked with hypothesis over generated and mutated events.

The gateways are in-memory fakes that record every call (no moto: the whole file runs in seconds).
The callback fake models the service: a callback completes once, then answers ALREADY_CLOSED.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st

from completion_relay import handler as relay_handler
from completion_relay.gateways import Delivery
from completion_relay.observability import logger, metrics
from completion_relay.relay import ENDED_STATUSES, Gateways, RelayAction, RelayResult, relay_event
from ecs_contract.completion import StoredResult
from ecs_contract.decide import decide
from ecs_contract.documents import CallbackSuccess
from ecs_contract.limits import CALLBACK_RESULT_MAX_BYTES, FAILURE_MAX_BYTES, REASON_MAX_CHARS
from ecs_contract.names import (
    CALLBACK_ID_ENV,
    EXECUTION_STATUS_CHANGE,
    TASK_STATE_CHANGE,
    is_callback_id,
    redact,
    started_by,
)
from ecs_contract.outcome import ErrorType, TaskFailed, TaskSucceeded
from ecs_contract.task import parse_task
from testkit.lambda_context import FakeLambdaContext
from testkit.paths import load_event
from testkit.template import relay_config, template_environment

CLUSTER = load_event("ecs/stopped-success")["detail"]["clusterArn"]
BUCKET = "example-results-bucket"
ORCHESTRATOR = "arn:aws:lambda:us-west-2:111122223333:function:durable-ecs-Orchestrator"
CONFIG = relay_config(cluster_arn=CLUSTER, results_bucket=BUCKET, durable_function_arns=(ORCHESTRATOR,))
MARKER = CONFIG.started_by_marker
STOPPED_SAMPLES = (
    "ecs/stopped-success",
    "ecs/stopped-nonzero-exit",
    "ecs/stopped-failed-to-start",
    "ecs/stopped-spot-interruption",
    "ecs/stopped-out-of-memory",
)
ALL_SAMPLES = (*STOPPED_SAMPLES, "ecs/running", "lambda/execution-running", "lambda/execution-stopped")
NOT_STOPPED = (
    "PROVISIONING",
    "PENDING",
    "ACTIVATING",
    "RUNNING",
    "DEACTIVATING",
    "STOPPING",
    "DEPROVISIONING",
)
ACTIONS = frozenset(RelayAction)
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------ fakes


@dataclass
class FakeCallbacks:
    """The durable callback API: the first completion of a callback is SENT, any later one ALREADY_CLOSED."""

    calls: list[tuple[str, str, Any, Delivery]] = field(default_factory=list)
    closed: set[str] = field(default_factory=set)

    def succeed(self, callback_id: str, result: bytes) -> Delivery:
        return self._complete("succeed", callback_id, result)

    def fail(self, callback_id: str, error: dict[str, str]) -> Delivery:
        return self._complete("fail", callback_id, error)

    def _complete(self, kind: str, callback_id: str, payload: Any) -> Delivery:
        delivery = Delivery.ALREADY_CLOSED if callback_id in self.closed else Delivery.SENT
        self.closed.add(callback_id)
        self.calls.append((kind, callback_id, payload, delivery))
        return delivery

    def sent(self) -> list[tuple[str, str, Any, Delivery]]:
        return [call for call in self.calls if call[3] is Delivery.SENT]


@dataclass
class FakeTasks:
    """ECS: DescribeTasks answers `described`; ListTasks(startedBy=...) filters `running_by_started_by`."""

    described: dict[str, Any] | None = None
    running_by_started_by: dict[str, list[str]] = field(default_factory=dict)
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def describe(self, cluster_arn: str, task_arn: str) -> dict[str, Any] | None:
        self.calls.append(("describe", cluster_arn, task_arn))
        return copy.deepcopy(self.described)

    def running(self, cluster_arn: str, started_by: str) -> list[str]:
        self.calls.append(("running", cluster_arn, started_by))
        return list(self.running_by_started_by.get(started_by, [])) if cluster_arn == CLUSTER else []

    def stop(self, cluster_arn: str, task_arn: str, reason: str) -> bool:
        self.calls.append(("stop", cluster_arn, task_arn))
        return True

    def stopped(self) -> list[str]:
        return [call[2] for call in self.calls if call[0] == "stop"]


@dataclass
class FakeResults:
    stored: StoredResult = field(
        default_factory=lambda: StoredResult(body={"processedMessage": "HI"}, size=26)
    )
    reads: list[str] = field(default_factory=list)

    def read(self, uri: str, max_bytes: int) -> StoredResult:
        self.reads.append(uri)
        return self.stored


@dataclass
class Fakes:
    callbacks: FakeCallbacks = field(default_factory=FakeCallbacks)
    tasks: FakeTasks = field(default_factory=FakeTasks)
    results: FakeResults = field(default_factory=FakeResults)

    def relay(self, event: object) -> RelayResult:
        gateways = Gateways(self.callbacks, self.tasks, self.results)  # type: ignore[arg-type]
        return relay_event(event, CONFIG, gateways)


# ------------------------------------------------------------------ strategies

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.sampled_from(["STOPPED", "RUNNING", "worker", CLUSTER, f"{MARKER}/x", CALLBACK_ID_ENV])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=15), inner, max_size=5),
    max_leaves=20,
)
huge_strings = st.builds(lambda c, n: c * n, st.characters(), st.integers(10_000, 300_000))
garbage = json_values | huge_strings | st.text(alphabet=st.characters(min_codepoint=0x80), max_size=50)
# What the Lambda API accepts as a callback id; long enough that finding it whole in a log means a leak.
callback_ids = st.from_regex(r"\A[A-Za-z0-9+/]{20,1022}={0,2}\Z")
# Not what the API's model allows (1..1024 base64 chars), written out here rather than taken from the code.
malformed_callback_ids = (
    st.text(max_size=40).filter(lambda s: re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", s) is None)
    | st.from_regex(r"\A[A-Za-z0-9+/]{1025,1100}\Z")
    | st.sampled_from(["", "abc=def", "a b", "ab==c", "ünïcode", "abc\n"])
)


# Keys of the samples that relay_event, parse_task or decide read.
READ_KEYS = frozenset(
    [
        "source",
        "detail-type",
        "detail",
        "taskArn",
        "clusterArn",
        "lastStatus",
        "startedBy",
        "stopCode",
        "stoppedReason",
        "containers",
        "name",
        "exitCode",
        "reason",
        "overrides",
        "containerOverrides",
        "environment",
        "value",
        "startedAt",
        "stoppedAt",
        "durableExecutionArn",
        "functionArn",
        "status",
    ]
)

# Parts of the samples the relay never reads, though their keys have names it reads elsewhere.
NOT_READ = frozenset(["attachments", "attributes", "networkInterfaces", "details"])


def is_read(path: tuple[Any, ...]) -> bool:
    """A key the relay reads, or an element of a list it reads (a container, an environment pair)."""
    if NOT_READ.intersection(path):
        return False
    return path[-1] in READ_KEYS or (isinstance(path[-1], int) and path[-2] in READ_KEYS)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


def at(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


@st.composite
def mutated_samples(draw: st.DrawFn) -> Any:
    """A real sample event with a few keys dropped, replaced or added with garbage, anywhere in it."""
    event = copy.deepcopy(load_event(draw(st.sampled_from(ALL_SAMPLES))))
    for _ in range(draw(st.integers(1, 4))):
        candidates = list(paths(event))[1:]
        # Mostly the keys the relay reads: garbage in an ENI attachment tells little.
        read = [p for p in candidates if is_read(p)]
        path = draw(st.sampled_from(read if read and draw(st.integers(0, 3)) != 0 else candidates))
        parent, key = at(event, path[:-1]), path[-1]
        how = draw(st.sampled_from(["drop", "replace", "add"]))
        if how == "drop":
            del parent[key]
        elif how == "replace":
            parent[key] = draw(garbage)
        elif isinstance(at(event, path), dict):  # a key the relay reads, where the sample has none
            at(event, path).setdefault(draw(st.sampled_from(sorted(READ_KEYS))), draw(garbage))
    return event


@st.composite
def wrongly_typed(draw: st.DrawFn) -> dict[str, Any]:
    """An event of ours that would complete a callback, but for one value of a type the relay won't expect."""
    event = draw(stopped_events_of_ours())
    read = [p for p in paths(event) if p and is_read(p)]
    # Half the time a list or object (containers, overrides, ...): a few paths, many ways to break.
    nested = [p for p in read if isinstance(at(event, p), list | dict)]
    path = draw(st.sampled_from(nested if draw(st.booleans()) else read))
    parent, key = at(event, path[:-1]), path[-1]
    was = type(parent[key])
    parent[key] = draw((scalars | json_values).filter(lambda v: type(v) is not was))
    return event


def worker_env(detail: dict[str, Any]) -> list[dict[str, str]]:
    return detail["overrides"]["containerOverrides"][0]["environment"]


def set_callback_id(detail: dict[str, Any], callback_id: str) -> None:
    [pair] = [p for p in worker_env(detail) if p["name"] == CALLBACK_ID_ENV]
    pair["value"] = callback_id


def set_or_drop(target: dict[str, Any], key: str, value: Any) -> None:
    """target[key] = value, or no such key when the value drawn is None."""
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value


@st.composite
def stopped_events_of_ours(draw: st.DrawFn, callback_id: str | None = None) -> dict[str, Any]:
    """A well-formed STOPPED event of our cluster and marker, stopped in any way there is."""
    event = copy.deepcopy(load_event(draw(st.sampled_from(STOPPED_SAMPLES))))
    detail = event["detail"]
    set_callback_id(detail, callback_id or draw(callback_ids))
    detail["startedBy"] = f"{MARKER}/{draw(st.from_regex(r'[A-Za-z0-9_/-]{0,40}', fullmatch=True))}"
    optional_text = st.none() | st.text(max_size=60) | st.sampled_from(["OutOfMemoryError: Container killed"])
    stop_codes = st.sampled_from(
        [
            "TaskFailedToStart",
            "EssentialContainerExited",
            "UserInitiated",
            "SpotInterruption",
            "TerminationNotice",
            "ServiceSchedulerInitiated",
        ]
    )
    values: st.SearchStrategy[Any]  # each key draws from its own strategy
    for key, values in (
        ("stopCode", st.none() | stop_codes | st.text(max_size=20)),
        ("stoppedReason", optional_text),
    ):
        set_or_drop(detail, key, draw(values))
    [worker] = detail["containers"]
    worker.update(name=draw(st.sampled_from(["worker", "worker", "renamed"])))
    for key, values in (
        ("exitCode", st.none() | st.sampled_from([0, 1, 137]) | st.integers(-(2**31), 2**31)),
        ("reason", optional_text),
    ):
        set_or_drop(worker, key, draw(values))
    detail["containers"] += draw(st.lists(st.just({"name": "sidecar", "exitCode": 0}), max_size=1))
    return event


def without_overrides(event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The event with its overrides moved to what DescribeTasks answers, as when an event omits them."""
    event = copy.deepcopy(event)
    return event, {**event["detail"], "overrides": event["detail"].pop("overrides")}


stored_results = st.sampled_from(
    [
        StoredResult(body={"processedMessage": "HI"}, size=26),
        StoredResult(),  # no object
        StoredResult(size=CALLBACK_RESULT_MAX_BYTES + 1),  # too big to read
        StoredResult(size=12, is_json=False),
        StoredResult(
            body={"blob": "x" * (CALLBACK_RESULT_MAX_BYTES - 50)}, size=CALLBACK_RESULT_MAX_BYTES - 38
        ),
    ]
)


def assert_well_formed_completion(call: tuple[str, str, Any, Delivery]) -> None:
    """What reaches the callback API is what it accepts: a valid id, UTF-8 JSON or a typed error."""
    kind, callback_id, payload, _ = call
    assert is_callback_id(callback_id)
    if kind == "succeed":
        document = json.loads(payload.decode())
        success = CallbackSuccess.from_dict(document)
        assert success.to_dict() == document  # the whole document, and nothing but it
        # Only an envelope that is too big by itself (a garbage ARN or timestamp of 256 KB, which
        # ECS never sends) may pass the limit: a result that would break it is never inline.
        assert len(payload) <= CALLBACK_RESULT_MAX_BYTES or success.result is None
    else:
        assert payload["ErrorType"] in {e.value for e in ErrorType}
        assert len(payload["ErrorMessage"]) <= REASON_MAX_CHARS
        json.loads(payload["ErrorData"])
        # Within the callback API's 1 MB for the whole Error, and a checkpoint's 256 KB: whatever came
        assert sum(len(value.encode()) for value in payload.values()) <= FAILURE_MAX_BYTES


# ------------------------------------------------------------------ properties: any input


@settings(FAST, max_examples=150)
@given(event=mutated_samples() | wrongly_typed() | json_values, stored=stored_results)
def test_no_event_however_malformed_makes_the_relay_raise_and_all_it_sends_is_well_formed(event, stored):
    fakes = Fakes(results=FakeResults(stored))
    outcome = fakes.relay(event)

    hypothesis_event(outcome.action)
    assert isinstance(outcome, RelayResult) and outcome.action in ACTIONS
    json.dumps(outcome.as_dict())  # the handler logs and returns it
    for call in fakes.callbacks.calls:
        assert_well_formed_completion(call)


# ------------------------------------------------------------------ properties: events that are not ours


@st.composite
def events_not_ours(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    event = draw(stopped_events_of_ours())
    detail = event["detail"]
    how = draw(
        st.sampled_from(
            ["cluster", "no startedBy", "startedBy", "status", "source", "detail-type", "callback id"]
        )
    )
    if how == "cluster":
        detail["clusterArn"] = draw(
            st.sampled_from([CLUSTER.replace("111122223333", "444455556666"), CLUSTER + "2", CLUSTER.lower()])
            | st.text(min_size=1).filter(lambda s: s != CLUSTER)
        )
    elif how == "no startedBy":
        del detail["startedBy"]
    elif how == "startedBy":
        detail["startedBy"] = draw(
            st.sampled_from(
                [MARKER, f"{MARKER}-lookalike/1", f"x{MARKER}/1", f"{MARKER.upper()}/1", "ecs-svc/1"]
            )
            | st.text(min_size=1).filter(lambda s: not s.startswith(f"{MARKER}/"))
        )
    elif how == "status":
        detail["lastStatus"] = draw(
            st.sampled_from(NOT_STOPPED) | st.text(min_size=1).filter(lambda s: s != "STOPPED")
        )
    elif how == "source":
        event["source"] = draw(
            st.sampled_from(["custom.ecs", "aws.ECS", EXECUTION_STATUS_CHANGE.source])
            | st.text().filter(lambda s: s != TASK_STATE_CHANGE.source)
        )
    elif how == "detail-type":
        event["detail-type"] = draw(
            st.sampled_from(["ECS Container Instance State Change"])
            | st.text().filter(lambda s: s != TASK_STATE_CHANGE.detail_type)
        )
    else:
        set_callback_id(detail, draw(malformed_callback_ids))
    return event, how


@FAST
@given(case=events_not_ours(), overrides_only_in_ecs=st.booleans())
def test_no_callback_is_ever_completed_for_an_event_that_is_not_ours(case, overrides_only_in_ecs):
    event, how = case
    fakes = Fakes()
    if overrides_only_in_ecs:
        event, fakes.tasks.described = without_overrides(event)

    outcome = fakes.relay(event)

    assert outcome.action is RelayAction.IGNORED
    assert fakes.callbacks.calls == [] and fakes.results.reads == []
    if how == "callback id" and overrides_only_in_ecs:
        assert [call[0] for call in fakes.tasks.calls] == ["describe"]  # the id is read there, then refused
    else:
        assert fakes.tasks.calls == []


# ------------------------------------------------------------------ properties: our stopped tasks


def expected_completion(event: dict[str, Any]) -> tuple[str, str | None]:
    outcome = decide(parse_task(event["detail"]))
    assert isinstance(outcome, TaskSucceeded | TaskFailed)
    return ("succeed", None) if isinstance(outcome, TaskSucceeded) else ("fail", outcome.error_type.value)


@FAST
@given(event=stopped_events_of_ours(), overrides_only_in_ecs=st.booleans(), stored=stored_results)
def test_a_stopped_task_of_ours_completes_its_callback_exactly_once_as_decide_says(
    event, overrides_only_in_ecs, stored
):
    callback_id = at(event, ("detail", "overrides", "containerOverrides", 0, "environment", 0, "value"))
    kind, error_type = expected_completion(event)
    fakes = Fakes(results=FakeResults(stored))
    sent = event
    if overrides_only_in_ecs:
        sent, fakes.tasks.described = without_overrides(event)

    outcome = fakes.relay(sent)

    [call] = fakes.callbacks.calls
    assert call[:2] == (kind, callback_id)
    assert_well_formed_completion(call)
    assert (outcome.action, outcome.error_type) == (
        RelayAction.SUCCEEDED if kind == "succeed" else RelayAction.FAILED,
        error_type,
    )
    if kind == "fail":
        assert call[2]["ErrorType"] == error_type
    else:  # success only ever for a worker that exited 0
        worker = parse_task(event["detail"]).container()
        assert worker is not None and worker.exit_code == 0
    assert fakes.tasks.stopped() == []


@FAST
@given(
    event=stopped_events_of_ours(),
    copies=st.integers(1, 5),
    not_stopped=st.lists(st.sampled_from(NOT_STOPPED), max_size=3),
    data=st.data(),
)
def test_duplicates_complete_once_and_events_before_stopped_complete_nothing(
    event, copies, not_stopped, data
):
    earlier = [copy.deepcopy(event) for _ in not_stopped]
    for status_event, status in zip(earlier, not_stopped, strict=True):
        status_event["detail"]["lastStatus"] = status
    deliveries = data.draw(st.permutations([event] * copies + earlier))
    fakes = Fakes()

    actions = [fakes.relay(delivered).action for delivered in deliveries]

    first = RelayAction.SUCCEEDED if expected_completion(event)[0] == "succeed" else RelayAction.FAILED
    stopped_actions = [a for a, e in zip(actions, deliveries, strict=True) if e is event]
    assert stopped_actions == [first] + [RelayAction.ALREADY_CLOSED] * (copies - 1)
    ignored = [a for a, e in zip(actions, deliveries, strict=True) if e is not event]
    assert ignored == [RelayAction.IGNORED] * len(earlier)
    assert len(fakes.callbacks.sent()) == 1
    assert len(fakes.callbacks.calls) == copies  # the not-STOPPED ones never reached the callback API


# ------------------------------------------------------------------ properties: cancellation

ALIASES = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_-]{0,20}\Z")
OURS = {
    "orchestrator": st.just(ORCHESTRATOR),
    "version": st.integers(1, 10**6).map(lambda v: f"{ORCHESTRATOR}:{v}"),
    "alias": ALIASES.map(lambda a: f"{ORCHESTRATOR}:{a}"),
    "latest": st.just(f"{ORCHESTRATOR}:$LATEST"),
}
OTHERS = {
    "lookalike": st.text(min_size=1).filter(lambda s: not s.startswith(":")).map(lambda s: ORCHESTRATOR + s),
    "prefix": st.integers(1, len(ORCHESTRATOR)).map(lambda k: ORCHESTRATOR[:-k]),
    "other function": ALIASES.map(lambda name: f"arn:aws:lambda:us-west-2:111122223333:function:{name}"),
    "other account": st.just(ORCHESTRATOR.replace("111122223333", "444455556666") + ":2"),
    "anything": st.text().filter(lambda s: s != ORCHESTRATOR and not s.startswith(f"{ORCHESTRATOR}:")),
}
task_arns = st.lists(
    st.from_regex(r"\Aarn:aws:ecs:us-west-2:111122223333:task/FargateCluster/[0-9a-f]{8}\Z"), max_size=3
)


@st.composite
def execution_events(draw: st.DrawFn) -> tuple[dict[str, Any], str, str]:
    event = copy.deepcopy(load_event("lambda/execution-stopped"))
    kind = draw(st.sampled_from(sorted(OURS) + sorted(OTHERS)))
    function_arn = draw({**OURS, **OTHERS}[kind])
    execution_arn = draw(
        st.sampled_from([event["detail"]["durableExecutionArn"]])
        | st.text(min_size=1, max_size=80)
        | ALIASES.map(lambda e: f"{function_arn}/durable-execution/{e}/1")
    )
    status = draw(st.sampled_from([*sorted(ENDED_STATUSES), "RUNNING", "SUCCEEDED"]) | json_values)
    event["detail"].update(durableExecutionArn=execution_arn, functionArn=function_arn, status=status)
    return event, kind, execution_arn


@FAST
@given(
    case=execution_events(), own=task_arns, others=task_arns, other_execution=st.text(min_size=1, max_size=80)
)
def test_an_ended_execution_of_the_orchestrator_stops_its_own_tasks_and_never_any_other(
    case, own, others, other_execution
):
    event, kind, execution_arn = case
    own_marker = started_by(MARKER, execution_arn)
    fakes = Fakes()
    fakes.tasks.running_by_started_by = {own_marker: own}
    for started in (started_by(MARKER, other_execution), MARKER, f"{MARKER}/", own_marker + "x"):
        if started != own_marker:
            fakes.tasks.running_by_started_by[started] = others

    outcome = fakes.relay(event)

    assert fakes.callbacks.calls == [] and fakes.results.reads == []
    status = event["detail"]["status"]
    if kind in OURS and isinstance(status, str) and status in ENDED_STATUSES:
        assert fakes.tasks.calls[0] == ("running", CLUSTER, own_marker)
        assert fakes.tasks.stopped() == own
        assert all(call[1] == CLUSTER for call in fakes.tasks.calls)
        assert outcome.action is (RelayAction.CANCELLED if own else RelayAction.IGNORED)
    else:
        assert fakes.tasks.calls == []
        assert outcome.action is RelayAction.IGNORED


# What botocore's Lambda model allows in a DurableExecutionArn: QUALIFIER "$LATEST",
# "$LATEST.PUBLISHED" or a version (aliases too, in case an event ever names one); the execution's
# name and id [a-zA-Z0-9_-]+ (DurableExecutionName: at most 64).
QUALIFIERS = st.sampled_from(["$LATEST", "$LATEST.PUBLISHED"]) | st.integers(1, 10**6).map(str) | ALIASES
EXECUTION_NAMES = st.from_regex(r"\A[a-zA-Z0-9_-]{1,64}\Z")


@FAST
@given(
    started_under=QUALIFIERS, named_by=QUALIFIERS, name=EXECUTION_NAMES, id_=EXECUTION_NAMES, own=task_arns
)
def test_an_ended_execution_has_its_tasks_stopped_whatever_qualifier_its_arn_carries(
    started_under, named_by, name, id_, own
):
    # Given tasks started under the ARN the orchestrator saw, and an event naming the execution
    # under another qualifier
    execution = f"durable-execution/{name}/{id_}"
    fakes = Fakes()
    fakes.tasks.running_by_started_by = {
        started_by(MARKER, f"{ORCHESTRATOR}:{started_under}/{execution}"): own
    }
    event = copy.deepcopy(load_event("lambda/execution-stopped"))
    event["detail"].update(
        durableExecutionArn=f"{ORCHESTRATOR}:{named_by}/{execution}", functionArn=f"{ORCHESTRATOR}:{named_by}"
    )

    outcome = fakes.relay(event)

    assert fakes.tasks.stopped() == own
    assert outcome.action is (RelayAction.CANCELLED if own else RelayAction.IGNORED)


@FAST
@given(arn=st.text(max_size=3000))
def test_started_by_of_any_execution_arn_however_malformed_is_one_ecs_accepts(arn):
    value = started_by(MARKER, arn)
    assert len(value) <= 128 and re.fullmatch(r"[A-Za-z0-9_/-]+", value)
    assert value.startswith(f"{MARKER}/")


# ------------------------------------------------------------------ properties: no callback id in logs


class Captured(logging.Handler):
    """The relay's log records, and the JSON lines Powertools writes for them."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(logger.registered_formatter.format(record))
        self.lines.append(json.dumps(record.__dict__, default=str))


@contextmanager
def handler_with(fakes: Fakes) -> Iterator[Captured]:
    """The Lambda handler on the fakes, its logs captured; the metrics it adds are dropped after."""
    captured = Captured()
    env = template_environment(
        "CompletionRelay", CLUSTER_ARN=CLUSTER, RESULTS_BUCKET=BUCKET, DURABLE_FUNCTION_ARNS=ORCHESTRATOR
    )
    gateways = Gateways(fakes.callbacks, fakes.tasks, fakes.results)  # type: ignore[arg-type]
    # Powertools' Logger logs through the standard logger of its name; it types no removeHandler.
    standard_logger = logging.getLogger(logger.name)
    standard_logger.addHandler(captured)
    try:
        on_fakes = relay_handler.build_handler(lambda: gateways)
        with mock.patch.dict(os.environ, env), mock.patch.object(relay_handler, "handler", on_fakes):
            yield captured
    finally:
        standard_logger.removeHandler(captured)
        metrics.clear_metrics()


@st.composite
def events_carrying_a_callback_id(draw: st.DrawFn) -> tuple[list[dict[str, Any]], str]:
    callback_id = draw(callback_ids)
    ours = draw(stopped_events_of_ours(callback_id=callback_id))
    case, _ = draw(events_not_ours())
    set_callback_id(case["detail"], callback_id)
    return [ours, ours, case], callback_id


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=events_carrying_a_callback_id(), stored=stored_results)
def test_no_relay_result_or_log_line_holds_a_whole_callback_id(case, stored):
    events, callback_id = case
    fakes = Fakes(results=FakeResults(stored))
    with handler_with(fakes) as captured:
        answers = [relay_handler.handler(event, FakeLambdaContext()) for event in events]

    assert [a["action"] for a in answers[:2]] == [answers[0]["action"], RelayAction.ALREADY_CLOSED]
    assert all(a.get("callback") == redact(callback_id) for a in answers[:2])
    assert captured.lines
    for text in [json.dumps(answers), *captured.lines]:
        assert callback_id not in text
