"""The trace context a task is given: the invocation's X-Ray trace, else one derived from its execution."""

from __future__ import annotations

from ecs_contract.trace import LONGEST_ENV, TraceContext

EXECUTION = "arn:aws:lambda:us-east-1:123456789012:function:orch:1/durable-execution/run/0000"
HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a:1"


def test_the_invocation_s_x_ray_trace_is_the_task_s_in_both_forms():
    trace = TraceContext.of_invocation(HEADER, EXECUTION, "callback-1")
    assert trace.trace_id == "5759e988bd862e3fe1be46a994272793" and trace.sampled
    assert trace.xray_trace_id == "1-5759e988-bd862e3fe1be46a994272793"
    env = trace.to_env()
    assert env["TRACEPARENT"] == f"00-5759e988bd862e3fe1be46a994272793-{trace.parent_id}-01"
    # Only Root, Parent and Sampled travel: a fixed length, counted at the door
    assert (
        env["_X_AMZN_TRACE_ID"]
        == f"Root=1-5759e988-bd862e3fe1be46a994272793;Parent={trace.parent_id};Sampled=1"
    )
    assert {k: len(v) for k, v in env.items()} == {k: len(v) for k, v in LONGEST_ENV.items()}
    assert TraceContext.of_env(env) == trace  # what the relay reads back from the task


def test_without_x_ray_every_task_of_an_execution_shares_a_derived_trace_and_each_attempt_a_parent():
    first = TraceContext.of_invocation(None, EXECUTION, "callback-1")
    again = TraceContext.of_invocation("", EXECUTION, "callback-1")  # a replay, another invocation
    second = TraceContext.of_invocation(None, EXECUTION, "callback-2")
    assert first == again and not first.sampled
    assert second.trace_id == first.trace_id and second.parent_id != first.parent_id
    assert TraceContext.of_invocation(None, EXECUTION + "1", "callback-1").trace_id != first.trace_id
    assert TraceContext.of_env({"TRACEPARENT": "garbage"}) is None and TraceContext.of_env({}) is None
