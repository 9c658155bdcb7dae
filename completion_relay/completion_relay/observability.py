"""Powertools objects for the completion relay.

Named in code, so a missing POWERTOOLS_* variable can never make a metrics flush fail; the
template's POWERTOOLS_* variables still tune log level and namespace per stack.
"""

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "completion_relay"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=os.getenv("POWERTOOLS_METRICS_NAMESPACE", "DurableEcsTasks"))
