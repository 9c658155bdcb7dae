"""Test support that the tests and the benchmarks share: paths and sample events, the one poll with a
deadline, the in-moto ECS world, the local ECS and local cloud harnesses, template.yaml readers.

What belongs here: a helper that more than one test module, or a test and a benchmark, needs. What does
not: fixtures (they stay in the conftest.py of the tier that uses them) and anything the deployed code
or the local cloud runs. Tests and benchmarks import testkit, never each other; the deployed code
(orchestrator/, completion_relay/, worker/, contract/) and the local cloud (local/) never import it.
"""
