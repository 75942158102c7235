"""The OpenAPI document carboy serves: valid OpenAPI 3.1, and true to the app.

schemathesis reads `/openapi.json` from the app in-process (no socket) and
calls every operation with generated requests, checking each response.
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.schemas import APIOperation

from carboy.testing import TestClient
from tests._openapi_app import app

# Per operation; with deadline off, a slow first call is not a failure.
MAX_EXAMPLES = 25
# Seconds for one call, so that a handler that hangs fails its case instead of the run.
CALL_TIMEOUT = 10


def _operations() -> list[APIOperation]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


# Collected once; each operation is its own test. schemathesis's pytest
# plugin is not used: it reaches into pytest internals that change between
# pytest releases.
OPERATIONS = _operations()


def test_openapi_document_is_valid_openapi_3_1() -> None:
    with TestClient(app) as client:
        response = client.get("/openapi.json")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert document["openapi"].startswith("3.1.")
    validate(document, cls=OpenAPIV31SpecValidator)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_every_operation_answers_as_its_document_says(operation: APIOperation) -> None:
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy())
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(
            checks=[not_a_server_error, response_schema_conformance], timeout=CALL_TIMEOUT
        )

    check()


def test_the_contract_covers_every_documented_operation() -> None:
    assert len(OPERATIONS) >= 10
