"""The error answers routes can give, documented in OpenAPI as what they are on the wire:
`application/problem+json` bodies (see `errors.py`), with their headers."""

from typing import Any

from ..errors import PROBLEM_JSON

_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "instance"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        # Validation failures (422) only: which input was refused and why.
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}

_DESCRIPTIONS = {
    400: "The body could not be read as JSON (for instance, it is not UTF-8).",
    401: "No valid credentials: a missing, invalid or expired token, or a wrong password.",
    404: "The resource does not exist, or is not yours.",
    409: "The request conflicts with existing data.",
    413: "The request body is larger than the configured limit.",
    422: "The request is not valid; `errors` says which part and why.",
    429: "Too many attempts; `Retry-After` says how many seconds to wait.",
    503: "A service the request needs is unavailable.",
}

_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}},
    429: {"Retry-After": {"required": True, "schema": {"type": "integer", "minimum": 1}}},
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for these error statuses."""
    return {status: _problem_response(status) for status in statuses}


def _problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _DESCRIPTIONS[status],
        "content": {PROBLEM_JSON: {"schema": _PROBLEM_SCHEMA}},
    }
    if status in _HEADERS:
        response["headers"] = _HEADERS[status]
    return response
