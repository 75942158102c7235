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

from carboy.testing import TestClient
from tests._openapi_app import app

# Per operation; with deadline off, a slow first call is not a failure.
MAX_EXAMPLES = 25
# Seconds for one call, so that a handler that hangs fails its case instead of the run.
CALL_TIMEOUT = 10


@pytest.fixture
def openapi_schema() -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("openapi_schema")


def test_openapi_document_is_valid_openapi_3_1() -> None:
    with TestClient(app) as client:
        response = client.get("/openapi.json")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert document["openapi"].startswith("3.1.")
    validate(document, cls=OpenAPIV31SpecValidator)


@schema.parametrize()
@hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None)
def test_every_operation_answers_as_its_document_says(case: schemathesis.Case) -> None:
    case.call_and_validate(
        checks=[not_a_server_error, response_schema_conformance], timeout=CALL_TIMEOUT
    )
