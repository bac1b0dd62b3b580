"""Every error leaves the API as RFC 9457 problem details (`application/problem+json`)."""

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

PROBLEM_JSON = "application/problem+json"


class AppError(Exception):
    """A domain error the service layer raises; the API turns it into a problem response."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers


class NotFoundError(AppError):
    status = 404
    title = "Not found"


class ConflictError(AppError):
    status = 409
    title = "Conflict"


class AuthenticationError(AppError):
    status = 401
    title = "Not authenticated"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class ServiceUnavailableError(AppError):
    status = 503
    title = "Service unavailable"


class RateLimitedError(AppError):
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


def problem(
    request: Request,
    status: int,
    title: str,
    detail: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "instance": request.url.path,
    }
    if detail is not None:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(
        jsonable_encoder(body), status_code=status, headers=headers, media_type=PROBLEM_JSON
    )


def problem_body(status: int, detail: str, instance: str) -> bytes:
    """A serialized problem, for middleware that answers before the app (and its handlers)."""
    body = {
        "type": "about:blank",
        "title": reason(status),
        "status": status,
        "instance": instance,
        "detail": detail,
    }
    return json.dumps(body, separators=(",", ":")).encode()


async def _app_error(request: Request, exc: AppError) -> JSONResponse:
    return problem(request, exc.status, exc.title, exc.detail, exc.headers)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    title = reason(exc.status_code)
    detail = exc.detail if exc.detail != title else None
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": _allowed_methods(request)}
    return problem(request, exc.status_code, title, detail, headers)


def _allowed_methods(request: Request) -> str:
    """Every method the path has. Starlette's 405 names only those of the first route that
    matched the path, although GET, PATCH and DELETE /items/{id} are three routes."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is Match.PARTIAL:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
        for error in exc.errors()
    ]
    return problem(request, 422, "Validation failed", "The request is not valid.", errors=errors)


async def _unhandled_error(request: Request, exc: Exception) -> JSONResponse:
    # Never leak internals; the exception still propagates to the server's logs.
    return problem(request, 500, "Internal server error")


def reason(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Error"


def install_error_handlers(app: FastAPI) -> None:
    app.exception_handler(AppError)(_app_error)
    app.exception_handler(StarletteHTTPException)(_http_error)
    app.exception_handler(RequestValidationError)(_validation_error)
    app.exception_handler(Exception)(_unhandled_error)
