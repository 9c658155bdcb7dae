"""The local cloud: the whole flow on 127.0.0.1, with the handlers exactly as Lambda runs them.

Pieces (each its own module): ``template`` reads template.yaml, ``seed`` creates its resources in
moto, ``functions`` hosts the two functions behind a Lambda Invoke endpoint, ``durable`` runs the
official durable local runner, ``agent`` runs each ECS task's worker as a real process, ``bus``
delivers ECS events to the relay the way the template's rule says, ``cloud`` starts and stops them
all, and ``cli`` is the one entry point (``python -m local --help``).
Not deployed: nothing here is imported by the orchestrator, the relay or the worker.
"""
