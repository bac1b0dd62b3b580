"""The names the test harness needs from this project, and the only harness file naming it.

The harness (conftest.py, plugin.py, database.py, speedups.py) imports the project only
through this module. To carry the harness into another project, copy those files and set
the names below; `check()` runs at session start and says which one is missing or wrong.
"""

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine

from {{ cookiecutter.package_name }}.db import get_session
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.models import Base
from {{ cookiecutter.package_name }}.security import create_access_token
from {{ cookiecutter.package_name }}.settings import DATABASE_NAME, Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# 1. The app factory: builds a new app from settings and opens nothing.
APP_FACTORY = create_app
# 2. The dependency every route gets its database session from; tests override it.
SESSION_DEPENDENCY = get_session
# 3. The metadata every model is registered on (through the models package).
METADATA: MetaData = Base.metadata
# 4. The project's alembic.ini; an absolute path, so pytest may start from any directory.
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"
# 5. The test database's default name; it must end in `_test`.
TEST_DATABASE_NAME = f"{DATABASE_NAME}_test"


# 6. Settings for tests: this worker's services, a cheap password hash, never `.env`.
def build_settings(database_url: str, redis_url: str = "") -> Settings:
    return Settings(
        _env_file=None,
        environment="test",
        database_url=database_url,
{%- if cookiecutter.use_redis == "y" %}
        redis_url=redis_url,
{%- endif %}
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        # Cheapest valid argon2 parameters: tests check behaviour, not hashing strength.
        password_hash_time_cost=1,
        password_hash_memory_cost_kib=8,
        password_hash_parallelism=1,
    )


# 7. Where the running lifespan keeps the engine.
def engine_of(app: FastAPI) -> AsyncEngine:
    engine: AsyncEngine = app.state.database.engine
    return engine


# 8. A bearer token for a user, minted without a login round trip.
def mint_token(user_id: int, settings: Settings) -> str:
    return create_access_token(user_id, settings)


def check(settings: Settings) -> list[str]:
    """What is wrong with the names above, in words an adopter can act on."""
    problems: list[str] = []
    if not METADATA.tables:
        problems.append("METADATA has no tables: does the models package import every model?")
    if not ALEMBIC_INI.is_file():
        problems.append(f"ALEMBIC_INI: {ALEMBIC_INI} does not exist")
    if not TEST_DATABASE_NAME.endswith("_test"):
        problems.append(f"TEST_DATABASE_NAME {TEST_DATABASE_NAME!r} does not end in '_test'")
    try:
        app: Any = APP_FACTORY(settings)
    except Exception as exc:  # any failure here is the adopter's to fix, with its text
        return [*problems, f"APP_FACTORY(build_settings(...)) raised: {exc!r}"]
    if not isinstance(app, FastAPI):
        problems.append(f"APP_FACTORY returned {type(app).__name__}, not a FastAPI app")
    elif not _routes_depend_on(app, SESSION_DEPENDENCY):
        problems.append(
            "SESSION_DEPENDENCY is used by no route: overriding it would not reach the routes"
        )
    return problems


def _routes_depend_on(app: FastAPI, dependency: object) -> bool:
    def depends(dependant: Any) -> bool:
        return any(
            sub.call is dependency or depends(sub) for sub in getattr(dependant, "dependencies", ())
        )

    def routes(candidates: Iterable[Any]) -> Iterator[Any]:
        for route in candidates:
            yield route
            # Newer FastAPI includes a router lazily, as one entry that keeps the original.
            if (included := getattr(route, "original_router", None)) is not None:
                yield from routes(included.routes)

    return any(depends(getattr(route, "dependant", None)) for route in routes(app.routes))
