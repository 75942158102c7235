from __future__ import annotations

import pytest

from tests._services import drop_own_databases


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    drop_own_databases()
