"""Read template.yaml: the functions, the ECS rule and the task definition, as the local cloud needs them.

The local cloud has no second list of functions, environments or event patterns: everything comes
from here, so a change to the template is a change to the local cloud. Intrinsic functions are
resolved against the physical names the local cloud gave the resources (``Names``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class TemplateError(ValueError):
    """template.yaml has something the local cloud cannot resolve or run."""


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, !GetAtt ...) read as their long forms."""


def _intrinsic(loader: _Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _intrinsic)


def load(path: Path = TEMPLATE, overlays: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The template; each overlay's Resources are added to it (e.g. the bench's polling baseline,
    ``bench/template-overlay.yaml``). An overlay may add resources, never replace one."""
    doc = _read(path)
    for overlay in overlays:
        extra = _read(overlay)["Resources"]
        clash = sorted(set(extra) & set(doc["Resources"]))
        if clash:
            raise TemplateError(f"{overlay} would replace {', '.join(clash)} of {path.name}")
        doc["Resources"].update(extra)
    return doc


def _read(path: Path) -> dict[str, Any]:
    with path.open() as f:
        doc = yaml.load(f, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(doc, dict) or "Resources" not in doc:
        raise TemplateError(f"{path} is not a CloudFormation template")
    return doc


@dataclass(frozen=True)
class Names:
    """What Ref / GetAtt / pseudo parameters resolve to in this local cloud."""

    stack: str
    region: str
    account: str
    refs: Mapping[str, str]  # "LogicalId" and "LogicalId.Attribute" -> value
    parameters: Mapping[str, Any] = field(default_factory=dict)  # overrides of Parameters' defaults


class Resolver:
    def __init__(self, doc: Mapping[str, Any], names: Names) -> None:
        self.doc, self.names = doc, names
        self.params: dict[str, Any] = {
            key: spec.get("Default") for key, spec in doc.get("Parameters", {}).items()
        }
        unknown = set(names.parameters) - set(self.params)
        if unknown:
            raise TemplateError(f"template.yaml has no parameter {', '.join(sorted(unknown))}")
        self.params.update(names.parameters)
        self.params.update(
            {
                "AWS::StackName": names.stack,
                "AWS::Region": names.region,
                "AWS::AccountId": names.account,
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
            }
        )
        for key, spec in doc.get("Parameters", {}).items():
            # A Ref to a Number parameter is its value as a string in CloudFormation (as in `!Equals
            # [!Ref N, "0"]`), whatever YAML made of the default.
            if spec.get("Type") == "Number" and isinstance(self.params[key], int | float):
                self.params[key] = str(self.params[key])
            if spec.get("Type") == "CommaDelimitedList" and isinstance(self.params[key], str):
                self.params[key] = [p for p in self.params[key].split(",") if p] or [""]

    def ref(self, name: str) -> Any:
        if name in self.params:
            return self.params[name]
        if name in self.names.refs:
            return self.names.refs[name]
        raise TemplateError(f"the local cloud has no value for !Ref {name}")

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.doc["Conditions"][name]))

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.resolve(n) for n in node]
        if not isinstance(node, dict):
            return node
        if len(node) != 1:
            return {k: self.resolve(v) for k, v in node.items()}
        ((key, arg),) = node.items()
        intrinsic = _INTRINSICS.get(key)
        return intrinsic(self, arg) if intrinsic else {key: self.resolve(arg)}

    def get_att(self, arg: list[str]) -> Any:
        attr = ".".join(arg)
        if attr not in self.names.refs:
            raise TemplateError(f"the local cloud has no value for !GetAtt {attr}")
        return self.names.refs[attr]

    def join(self, arg: Any) -> str:
        sep, items = arg
        return str(sep).join(str(i) for i in self.resolve(items))

    def if_(self, arg: Any) -> Any:
        cond, yes, no = arg
        return self.resolve(yes if self.condition(cond) else no)

    def equals(self, arg: Any) -> bool:
        left, right = self.resolve(arg)
        return bool(left == right)

    def not_(self, arg: Any) -> bool:
        (value,) = self.resolve(arg)
        return not value

    def each_member_equals(self, arg: Any) -> bool:  # Rules only: every member of the list equals the value
        items, value = self.resolve(arg)
        return all(item == value for item in items)

    def contains(self, arg: Any) -> bool:  # Rules only: the value is one of the list
        items, value = self.resolve(arg)
        return value in items

    def select(self, arg: Any) -> Any:
        index, items = self.resolve(arg)
        return items[int(index)]

    def get_azs(self, arg: Any) -> list[str]:
        return [f"{self.names.region}{z}" for z in "abc"]

    def sub(self, arg: Any) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
        out, rest = [], text
        while "${" in rest:
            before, _, after = rest.partition("${")
            name, _, rest = after.partition("}")
            out.append(before)
            if name in extra:
                out.append(str(extra[name]))
            elif "." in name and not name.startswith("AWS::"):
                out.append(str(self.resolve({"Fn::GetAtt": name.split(".", 1)})))
            else:
                out.append(str(self.ref(name)))
        out.append(rest)
        return "".join(out)


# The intrinsic functions the template uses, by their long form (the YAML loader turns !Ref into
# {"Ref": ...}); any other single-key mapping is data and is resolved member by member.
_INTRINSICS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Ref": Resolver.ref,
    "Fn::GetAtt": Resolver.get_att,
    "Fn::Sub": Resolver.sub,
    "Fn::Join": Resolver.join,
    "Fn::If": Resolver.if_,
    "Fn::Equals": Resolver.equals,
    "Fn::Not": Resolver.not_,
    "Fn::And": lambda r, arg: all(bool(v) for v in r.resolve(arg)),
    "Fn::Or": lambda r, arg: any(bool(v) for v in r.resolve(arg)),
    "Fn::EachMemberEquals": Resolver.each_member_equals,
    "Fn::Contains": Resolver.contains,
    "Fn::Select": Resolver.select,
    "Fn::GetAZs": Resolver.get_azs,
    "Condition": Resolver.condition,
}


@dataclass(frozen=True)
class EventRule:
    """An EventBridge rule of a function (SAM ``EventBridgeRule`` event source)."""

    name: str  # "<Function><Event>", as SAM names the logical id
    pattern: dict[str, Any]
    retry_attempts: int  # the rule's RetryPolicy.MaximumRetryAttempts
    max_event_age_seconds: int
    dead_letter_arn: str | None


@dataclass(frozen=True)
class Function:
    logical_id: str
    handler: str  # "package.module.function"
    code_uri: Path
    layers: tuple[Path, ...]  # ContentUri of each layer of this template
    environment: dict[str, str]
    timeout_seconds: int
    memory_mb: int
    durable: dict[str, int] | None  # DurableConfig, resolved; None for a plain function
    async_retry_attempts: int  # EventInvokeConfig.MaximumRetryAttempts (Lambda's default: 2)
    on_failure_arn: str | None
    rules: tuple[EventRule, ...]
    reserved_concurrency: int | None = None  # ReservedConcurrentExecutions; None: the account's pool
    # EventInvokeConfig.MaximumEventAgeInSeconds: how long Lambda keeps an asynchronous event it could
    # not run yet (throttled); Lambda's default and maximum: 6 hours.
    async_max_event_age_seconds: int = 21600


@dataclass(frozen=True)
class Container:
    name: str
    environment: dict[str, str]
    memory_mb: int
    log_group: str | None
    log_stream_prefix: str | None


@dataclass(frozen=True)
class TaskDefinition:
    family: str
    cpu: str
    memory: str
    containers: tuple[Container, ...]
    task_role_arn: str | None = None  # TaskRoleArn: the worker's credentials
    execution_role_arn: str | None = None  # ExecutionRoleArn: the platform's (image pull, logs)


class Template:
    """template.yaml, resolved for one local cloud."""

    def __init__(self, names: Names, doc: Mapping[str, Any] | None = None) -> None:
        self.doc = dict(doc if doc is not None else load())
        self.r = Resolver(self.doc, names)
        self.resources: dict[str, Any] = self.doc["Resources"]

    def check_rules(self) -> None:
        """Refuse the parameters as CloudFormation does: each parameter within its constraints, and
        each rule whose RuleCondition holds must have every Assert true, else the stack is not
        created and the AssertDescription says why."""
        self.check_parameters()
        failed = [
            f"{name}: {assertion.get('AssertDescription', 'assertion failed')}"
            for name, rule in self.doc.get("Rules", {}).items()
            if self.r.resolve(rule.get("RuleCondition", True))
            for assertion in rule.get("Assertions", [])
            if not self.r.resolve(assertion["Assert"])
        ]
        if failed:
            raise TemplateError("template parameters refused by its Rules:\n  " + "\n  ".join(failed))

    def check_parameters(self) -> None:
        """Each parameter's value within its AllowedValues, AllowedPattern, MinValue and MaxValue (a
        Number's are numbers), as CloudFormation checks them before it creates anything (AWS
        CloudFormation User Guide, parameters-section-structure.html); and RetryRules, JSON that
        CloudFormation cannot read, by the parser the functions refuse it with at the door."""
        failed = []
        for name, spec in self.doc.get("Parameters", {}).items():
            value = self.r.params.get(name)
            if value is None or spec.get("Type") == "CommaDelimitedList":
                continue
            problem = _constraint_broken(spec, str(value))
            if problem:
                failed.append(f"{name}={value}: {spec.get('ConstraintDescription') or problem}")
        if failed:
            raise TemplateError("template parameters refused:\n  " + "\n  ".join(failed))
        if "RetryRules" in self.r.params:
            # Here, not at the top: `python -m local` reads this module before it puts contract/ on
            # the path (local/__main__.py).
            from ecs_contract.retry_rules import InvalidRetryRules, RetryRules

            try:
                RetryRules.parse(str(self.r.params["RetryRules"]))
            except InvalidRetryRules as e:
                raise TemplateError(f"template parameter RetryRules refused: {e}") from e

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v.get("Type") == kind}

    def functions(self) -> dict[str, Function]:
        glob = self.doc.get("Globals", {}).get("Function", {})
        out = {}
        for logical_id, res in self.of_type("AWS::Serverless::Function").items():
            props = {**glob, **res.get("Properties", {})}
            env = {
                **glob.get("Environment", {}).get("Variables", {}),
                **res.get("Properties", {}).get("Environment", {}).get("Variables", {}),
            }
            invoke_config = props.get("EventInvokeConfig", {})
            on_failure = invoke_config.get("DestinationConfig", {}).get("OnFailure", {})
            out[logical_id] = Function(
                logical_id=logical_id,
                handler=props["Handler"],
                code_uri=ROOT / props["CodeUri"],
                layers=tuple(self._layer_path(layer) for layer in props.get("Layers", [])),
                environment={k: str(self.r.resolve(v)) for k, v in env.items()},
                timeout_seconds=int(self.r.resolve(props.get("Timeout", 3))),
                memory_mb=int(self.r.resolve(props.get("MemorySize", 128))),
                durable=(
                    {k: int(self.r.resolve(v)) for k, v in props["DurableConfig"].items()}
                    if "DurableConfig" in props
                    else None
                ),
                async_retry_attempts=int(invoke_config.get("MaximumRetryAttempts", 2)),
                async_max_event_age_seconds=int(invoke_config.get("MaximumEventAgeInSeconds", 21600)),
                on_failure_arn=self.r.resolve(on_failure["Destination"]) if on_failure else None,
                rules=tuple(self._rules(logical_id, props.get("Events", {}))),
                reserved_concurrency=(
                    int(self.r.resolve(props["ReservedConcurrentExecutions"]))
                    if "ReservedConcurrentExecutions" in props
                    else None
                ),
            )
        return out

    def _layer_path(self, layer: Any) -> Path:
        if isinstance(layer, dict) and set(layer) == {"Ref"}:
            res = self.resources.get(layer["Ref"], {})
            if res.get("Type") == "AWS::Serverless::LayerVersion":
                return ROOT / res["Properties"]["ContentUri"]
        raise TemplateError(f"the local cloud runs only layers of this template, not {layer!r}")

    def _rules(self, function_id: str, events: Mapping[str, Any]) -> list[EventRule]:
        rules = []
        for event_id, event in events.items():
            if event.get("Type") != "EventBridgeRule":
                raise TemplateError(
                    f"{function_id}.{event_id}: the local cloud delivers only EventBridgeRule"
                )
            props = event["Properties"]
            retry = props.get("RetryPolicy", {})
            dlq = props.get("DeadLetterConfig", {})
            rules.append(
                EventRule(
                    name=f"{function_id}{event_id}",
                    pattern=self.r.resolve(props["Pattern"]),
                    retry_attempts=int(retry.get("MaximumRetryAttempts", 185)),
                    max_event_age_seconds=int(retry.get("MaximumEventAgeInSeconds", 86400)),
                    dead_letter_arn=self.r.resolve(dlq["Arn"]) if "Arn" in dlq else None,
                )
            )
        return rules

    def outputs(self) -> dict[str, str]:
        """The stack outputs, as ``aws cloudformation describe-stacks`` would list them."""
        return {k: str(self.r.resolve(v["Value"])) for k, v in self.doc.get("Outputs", {}).items()}

    def task_definition(self, logical_id: str) -> TaskDefinition:
        props = self.resources[logical_id]["Properties"]
        containers = []
        for c in props["ContainerDefinitions"]:
            log = c.get("LogConfiguration", {}).get("Options", {})
            containers.append(
                Container(
                    name=c["Name"],
                    environment={
                        e["Name"]: str(self.r.resolve(e["Value"])) for e in c.get("Environment", [])
                    },
                    memory_mb=int(self.r.resolve(c.get("Memory", props.get("Memory", 512)))),
                    log_group=self.r.resolve(log["awslogs-group"]) if "awslogs-group" in log else None,
                    log_stream_prefix=log.get("awslogs-stream-prefix"),
                )
            )
        return TaskDefinition(
            family=self.r.resolve(props["Family"]),
            cpu=str(self.r.resolve(props["Cpu"])),
            memory=str(self.r.resolve(props["Memory"])),
            containers=tuple(containers),
            task_role_arn=self.r.resolve(props["TaskRoleArn"]) if "TaskRoleArn" in props else None,
            execution_role_arn=(
                self.r.resolve(props["ExecutionRoleArn"]) if "ExecutionRoleArn" in props else None
            ),
        )


def _constraint_broken(spec: Mapping[str, Any], value: str) -> str | None:
    """What CloudFormation would say is wrong with a parameter's value, or None."""
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(v) for v in allowed]:
        return f"must be one of {', '.join(str(v) for v in allowed)}"
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(pattern, value):
        return f"must match pattern {pattern}"
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return "must be a number"
        if "MinValue" in spec and number < float(spec["MinValue"]):
            return f"must be at least {spec['MinValue']}"
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            return f"must be at most {spec['MaxValue']}"
    return None
