"""Every command in the README's bash blocks is checked against what it names.

`make test` itself is what CI runs. The deployment commands need an AWS account, so they cannot be
run here; instead each is checked against its tool: make targets exist, files exist, AWS CLI
operations and parameters exist in botocore's service model, SAM CLI options exist in `sam --help`,
stack outputs exist in template.yaml.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from functools import cache

import botocore.session
import pytest
from botocore import xform_name

from ecs_contract.outcome import ErrorType
from local import cli
from testkit.paths import ROOT
from testkit.sam import SAM
from testkit.template import FUNCTIONS, template

README = (ROOT / "README.md").read_text()
COMMANDS = [
    command.strip()
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    for line in block.splitlines()
    if line.strip() and not line.strip().startswith("#")
    for command in line.split(" | ")
]
# Options of the AWS CLI itself, not of an operation.
AWS_GLOBAL_OPTIONS = {"--query", "--output", "--region", "--profile", "--cli-binary-format"}
# AWS CLI v2 commands written in the CLI rather than generated from a service model, with the
# options the README uses (https://awscli.amazonaws.com/v2/documentation/api/latest/reference/).
AWS_CLI_CUSTOMIZATIONS = {("ecr", "get-login-password"): set(), ("logs", "tail"): {"--follow"}}


def words(command: str) -> list[str]:
    """The command's own words: the part after `VAR=$(` and inside it, split like a shell would."""
    inner = re.sub(r"^\w+=\$\((.*)\)$", r"\1", command)
    return shlex.split(inner)


def by_tool(tool: str) -> list[list[str]]:
    return [w for w in map(words, COMMANDS) if w[0] == tool]


def test_readme_has_the_test_command_and_ci_runs_it():
    assert "make test" in COMMANDS
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("command", by_tool("make"), ids=" ".join)
def test_make_targets_exist(command):
    targets = re.findall(r"^([\w.-]+):", (ROOT / "Makefile").read_text(), flags=re.M)
    assert command[1] in targets


def test_files_named_by_commands_exist():
    named = re.findall(r"file://(\S+)|-f (\S+)|--event (\S+)", " ".join(COMMANDS))
    paths = [next(filter(None, groups)) for groups in named]
    assert paths
    for path in paths:
        assert (ROOT / path).exists(), path


@cache
def service(name: str):
    return botocore.session.get_session().get_service_model(name)


@pytest.mark.parametrize("command", by_tool("aws"), ids=" ".join)
def test_aws_cli_operations_and_parameters_exist(command):
    options = [w for w in command[3:] if w.startswith("--")]
    custom = AWS_CLI_CUSTOMIZATIONS.get((command[1], command[2]))
    if custom is not None:
        assert set(options) <= custom | AWS_GLOBAL_OPTIONS
        return
    model = service(command[1])
    operations = {xform_name(op, "-"): op for op in model.operation_names}
    if command[2] not in operations:
        pytest.fail(f"aws {command[1]} has no operation {command[2]}")
    members = {xform_name(m, "-") for m in model.operation_model(operations[command[2]]).input_shape.members}
    for option in options:
        assert option in AWS_GLOBAL_OPTIONS or option[2:] in members, f"{option} of {command[:3]}"


def test_stack_outputs_named_by_commands_exist():
    keys = re.findall(r"OutputKey=='(\w+)'", README)
    assert keys
    assert set(keys) <= set(template()["Outputs"])


@pytest.mark.parametrize("command", by_tool("sam"), ids=" ".join)
def test_sam_cli_options_exist(command):
    assert SAM.exists(), "run `make test`: it installs the SAM CLI into .venv-sam"
    subcommand = command[1:3] if command[1] == "local" else command[1:2]
    done = subprocess.run(
        [str(SAM), *subcommand, "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    for option in (w for w in command[1 + len(subcommand) :] if w.startswith("--")):
        assert option in done.stdout, f"sam {' '.join(subcommand)} has no {option}"
    if subcommand == ["local", "invoke"]:
        assert command[3] in FUNCTIONS


@pytest.mark.parametrize("command", by_tool(".venv/bin/python"), ids=" ".join)
def test_local_cli_commands_parse(command):
    assert command[1:3] == ["-m", "local"]
    cli.parser().parse_args(command[3:])  # exits (fails the test) on an unknown command or option


def test_the_worker_image_is_built_from_the_repository_root_with_its_dockerfile():
    [build] = [w for w in by_tool("docker") if w[1] == "build"]
    assert build[build.index("-f") + 1] == "worker/Dockerfile"
    assert build[-1] == "."


def test_a_job_is_started_by_the_arn_its_invoke_answers_not_by_listing_executions():
    """With several starts at once, the first item of ListDurableExecutionsByFunction need not be
    ours: the README takes the ARN from the Invoke answer (botocore: InvocationResponse has it)."""
    invokes = [w for w in by_tool("aws") if w[1:3] == ["lambda", "invoke"]]
    assert invokes
    output = service("lambda").operation_model("Invoke").output_shape.members
    for command in invokes:
        assert command[command.index("--invocation-type") + 1] == "Event"
        assert command[command.index("--query") + 1] in output
        assert "--durable-execution-name" in command
    assert not [w for w in by_tool("aws") if w[2] == "list-durable-executions-by-function"]


def test_the_readme_shows_no_path_of_the_machine_it_was_captured_on():
    """Output captured on one machine must read the same on every other: no absolute paths."""
    blocks = re.findall(r"```text\n(.*?)```", README, flags=re.S)
    absolute = [
        path for block in blocks for path in re.findall(r"(?:^|[\s(=])(/[\w.-]+/[\w./-]*)", block, flags=re.M)
    ]
    assert absolute == []


def test_the_readme_s_python_examples_compile_and_import_what_exists():
    """The library snippet users copy: it compiles, and every name it imports exists."""
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert blocks
    for block in blocks:
        compile(block, "README.md", "exec")
        for module, names in re.findall(r"^from ([\w.]+) import (.+)$", block, flags=re.M):
            imported = __import__(module, fromlist=["_"])
            for name in (n.strip() for n in names.split(",")):
                assert hasattr(imported, name), f"README imports {name} from {module}, which has none"


def test_every_error_type_has_its_next_step_in_the_readme_as_in_the_error_data():
    """The README's table of error types holds each one's remedy exactly as callers read it."""
    for error_type in ErrorType:
        assert f"| `{error_type.value}` | {error_type.remedy} |" in README, error_type
