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
{%- endif %}
    # No default on purpose: a constant secret in code ends up in production.
    secret_key: SecretStr = Field(min_length=32)
    access_token_expire_minutes: int = Field(default=30, ge=1)
    # Argon2 cost: production-strength defaults; tests lower them through settings.
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_cost_kib: int = Field(default=65536, ge=8)
    password_hash_parallelism: int = Field(default=4, ge=1)
{%- if cookiecutter.use_redis == "y" %}
    login_rate_limit: int = Field(default=5, ge=1)
    login_rate_window_seconds: int = Field(default=60, ge=1)
{%- endif %}
