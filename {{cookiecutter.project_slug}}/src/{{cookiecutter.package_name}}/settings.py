"""Application settings, read from the environment (and `.env`) by pydantic-settings."""

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DATABASE_NAME = "{{ cookiecutter.package_name }}"


class DatabaseSettings(BaseSettings):
    """The part of the settings Alembic needs: migrations must not require SECRET_KEY."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

{%- if cookiecutter.database == "postgresql" %}
    database_url: str = f"postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/{DATABASE_NAME}"
{%- else %}
    database_url: str = f"sqlite+aiosqlite:///./{DATABASE_NAME}.db"
{%- endif %}
{%- if cookiecutter.database == "postgresql" %}
    db_pool_size: int = Field(default=5, ge=1)
{%- endif %}
    db_echo: bool = False


class Settings(DatabaseSettings):
    """Everything the application reads from its environment."""

    environment: Literal["development", "test", "production"] = "development"
{%- if cookiecutter.use_redis == "y" %}
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Every key the app writes starts with this, so several apps (or tests) can share a server.
    redis_key_prefix: str = "{{ cookiecutter.package_name }}:"
    # Seconds the login rate limiter waits for Redis before the attempt fails (503).
    redis_timeout_seconds: float = Field(default=2.0, gt=0)
{%- endif %}
    # No default on purpose: a constant secret in code ends up in production.
    secret_key: SecretStr = Field(min_length=32)
    access_token_expire_minutes: int = Field(default=30, ge=1)
    # Argon2 cost: production-strength defaults; tests lower them through settings.
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_cost_kib: int = Field(default=65536, ge=8)
    password_hash_parallelism: int = Field(default=4, ge=1)
{%- if cookiecutter.use_redis == "y" %}
    # Login attempts per window: per account (guessing one password) and per client address
    # (trying one password on many accounts). Both counters must stay under their limit.
    login_rate_limit_per_account: int = Field(default=5, ge=1)
    login_rate_limit_per_address: int = Field(default=20, ge=1)
    login_rate_window_seconds: int = Field(default=60, ge=1)
{%- endif %}
    # Proxies whose X-Forwarded-For names the client (IPs or CIDR ranges, "*" for any).
    # Empty: the client is the connecting address, so a client cannot pick its own address.
    trusted_proxies: list[str] = []
    # Bodies larger than this are refused with 413 before they are read into memory.
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1)
    # Browser origins allowed to call the API (CORS), e.g. ["https://app.example.com"].
    cors_origins: list[str] = []
    # Unset, each follows ENVIRONMENT: docs and schema everywhere but in production, security
    # headers only in production. Set one to true or false to decide it yourself.
    # Interactive docs (/docs, /redoc) and the schema they load (/openapi.json).
    docs_enabled: bool | None = None
    redoc_enabled: bool | None = None
    openapi_enabled: bool | None = None
    security_headers_enabled: bool | None = None

    @property
    def serves_docs(self) -> bool:
        return self._unless_production(self.docs_enabled)

    @property
    def serves_redoc(self) -> bool:
        return self._unless_production(self.redoc_enabled)

    @property
    def serves_openapi(self) -> bool:
        # The docs pages load the schema: turning one of them on serves it too, unless
        # OPENAPI_ENABLED says otherwise (and then FastAPI serves no docs either).
        if self.openapi_enabled is None and (self.docs_enabled or self.redoc_enabled):
            return True
        return self._unless_production(self.openapi_enabled)

    @property
    def sends_security_headers(self) -> bool:
        if self.security_headers_enabled is not None:
            return self.security_headers_enabled
        return self.environment == "production"

    def _unless_production(self, override: bool | None) -> bool:
        return override if override is not None else self.environment != "production"
