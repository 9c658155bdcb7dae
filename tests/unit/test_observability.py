"""Tracing is on in Lambda (Tracing: Active) and costs nothing where it is off: the X-Ray SDK,
whose import builds two botocore clients (~0.2 s of cold start), is imported only when used."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from testkit.paths import ROOT

PROBE = """
import sys
sys.path[:0] = [{code!r}, {contract!r}]
import {module}.handler as h
print('aws_xray_sdk.core' in sys.modules, hasattr(h.handler, '__wrapped__'))
"""


def imported_xray(module: str, **env: str) -> bool:
    base = {k: v for k, v in os.environ.items() if k not in ("LAMBDA_TASK_ROOT", "POWERTOOLS_TRACE_DISABLED")}
    code = PROBE.format(code=str(ROOT / module), contract=str(ROOT / "contract"), module=module)
    done = subprocess.run(
        [sys.executable, "-I", "-c", code],
        env={**base, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    xray, wrapped = done.stdout.split()
    assert wrapped == "True"  # the Powertools decorators are always there
    return xray == "True"


@pytest.mark.parametrize("module", ["orchestrator", "completion_relay"])
def test_the_xray_sdk_is_imported_only_where_tracing_is_on(module):
    assert imported_xray(module, LAMBDA_TASK_ROOT="/var/task")
    assert not imported_xray(module)
    assert not imported_xray(module, LAMBDA_TASK_ROOT="/var/task", POWERTOOLS_TRACE_DISABLED="true")
    assert not imported_xray(module, LAMBDA_TASK_ROOT="/var/task", AWS_SAM_LOCAL="true")
