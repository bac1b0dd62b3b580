"""The contract test: the app answers every request its own OpenAPI schema describes as the
schema says, and valid or not, no request gets a 500.

schemathesis generates the requests (valid ones, and invalid ones that the app must refuse
with a 4xx) and checks each answer: no server error, a documented status code, content type
and headers, a body that matches the documented schema. The requests go through this suite's
own harness, in-process: the app's lifespan runs (`client`), every request shares the test's
rolled-back connection (`db_session`), and authenticated routes get `auth_headers`. Nothing
persists, and no server is started. See docs/contract-testing.md in the template's guide.

Depth: CONTRACT_MAX_EXAMPLES requests per operation and mode (default 10, a few seconds for
the whole module); CI sets it higher. A failure prints the request, the answer, a curl line
and the @seed(...) that reproduces it.
"""

import copy
import os
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import ignored_auth

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.models import Item, User
from {{ cookiecutter.package_name }}.settings import Settings

from .factories import ModelFactory

MAX_EXAMPLES = int(os.environ.get("CONTRACT_MAX_EXAMPLES", "10"))

# The schema, read from an app at import: parametrization needs the operations at collection.
# Building an app opens nothing; the cheapest hash cost keeps this import fast.
_SCHEMA_APP = create_app(
    Settings(
        _env_file=None,
        secret_key="contract-test-only-key-that-is-long-enough",
        password_hash_time_cost=1,
        password_hash_memory_cost_kib=8,
        password_hash_parallelism=1,
    )
)
RAW_SCHEMA = copy.deepcopy(_SCHEMA_APP.openapi())
SCHEMA = schemathesis.openapi.from_dict(copy.deepcopy(RAW_SCHEMA))
OPERATIONS = {
    f"{method.upper()} {path}": SCHEMA[path][method]
    for path, methods in RAW_SCHEMA["paths"].items()
    for method in methods
}


def _has_input(label: str) -> bool:
    """Invalid requests need something to get wrong: a parameter or a body."""
    operation = OPERATIONS[label]
    return bool(list(operation.iter_parameters())) or bool(operation.body)


CASES = [
    pytest.param(label, mode, id=f"{label}-{mode.value}")
    for label in OPERATIONS
    for mode in GenerationMode
    if mode is GenerationMode.POSITIVE or _has_input(label)
]

# Checks that send requests of their own go through schemathesis' synchronous transports,
# outside this harness: the CLI run against a served app covers them (see the guide).
SELF_SENDING_CHECKS = [ignored_auth]


def test_the_contract_is_the_schema_the_app_serves(app: FastAPI) -> None:
    assert app.openapi() == RAW_SCHEMA
    assert len(CASES) >= len(OPERATIONS)


def _request_of(case: Case[Any], headers: dict[str, str]) -> dict[str, Any]:
    """httpx arguments for a case (schemathesis prepares them for `requests`)."""
    prepared = case.as_transport_kwargs(base_url="http://test", headers=headers)
    assert not prepared.pop("cookies"), "the schema declares no cookies"
    request: dict[str, Any] = {
        key: prepared.pop(key) for key in ("method", "url", "headers", "params")
    }
    if "json" in prepared:
        request["json"] = prepared.pop("json")
    if "data" in prepared:
        request["content"] = prepared.pop("data")  # raw bytes: deliberately broken bodies
    assert not prepared, f"not translated for httpx: {sorted(prepared)}"
    return request


@pytest.mark.parametrize(("label", "mode"), CASES)
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    # Every example shares the test's fixtures on purpose: one app, one rolled-back connection.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(data=st.data())
async def test_the_app_keeps_its_contract(
    data: st.DataObject,
    label: str,
    mode: GenerationMode,
    client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    own_item: Item,
) -> None:
    operation = OPERATIONS[label]
    strategy = operation.as_strategy(generation_mode=mode)
    if "{item_id}" in operation.path:
        # Generated ids rarely exist: half the time, use one of the caller's items.
        strategy = strategy | operation.as_strategy(
            generation_mode=mode, path_parameters={"item_id": own_item.id}
        )
    case = data.draw(strategy, label="case")
    headers = _credentials_for(case, auth_headers)
    response = await client.request(**_request_of(case, headers))

    case.validate_response(response, headers=headers, excluded_checks=SELF_SENDING_CHECKS)


def _credentials_for(case: Case[Any], auth_headers: dict[str, str]) -> dict[str, str]:
    """A valid token in place of the generated one, so that routes get past authentication;
    unless the case is about invalid headers (the token left out, say): then it goes as
    generated, and the app must refuse it."""
    headers = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
    if headers is not None and headers.mode is GenerationMode.NEGATIVE:
        return {}
    return auth_headers


@pytest.fixture
async def own_item(current_user: User, item_factory: ModelFactory[Item]) -> Item:
    """An item of the authenticated user, so item routes answer more than 404."""
    return await item_factory(owner=current_user)
