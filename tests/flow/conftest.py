"""One local cloud for the flow tests (testkit/local_cloud.py), shared by the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testkit.local_cloud import PARAMETERS, Cloud, running_cloud


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with running_cloud(tmp_path_factory.mktemp("local-cloud"), PARAMETERS) as running:
        yield running
