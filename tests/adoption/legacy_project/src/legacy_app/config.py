"""Settings: one class per environment, values read when each class is defined."""

from functools import lru_cache

from starlette.config import Config

config = Config()


class BaseConfig:
    POSTGRES_HOST = config("POSTGRES_HOST", default="127.0.0.1")
    POSTGRES_PORT = config("POSTGRES_PORT", cast=int, default=5432)
    POSTGRES_USER = config("POSTGRES_USER", default="postgres")
    POSTGRES_PASSWORD = config("POSTGRES_PASSWORD", default="postgres")
    POSTGRES_DB = config("POSTGRES_DB", default="legacy_app")
    SECRET_KEY = config("SECRET_KEY", default="legacy-secret-key-that-is-long-enough")
    ACCESS_TOKEN_EXPIRE_MINUTES = 30
    TESTING = False


class DevelopmentConfig(BaseConfig):
    pass


class TestingConfig(BaseConfig):
    TESTING = True


@lru_cache
def get_settings() -> BaseConfig:
    if config("APP_ENV", default="development") == "testing":
        return TestingConfig()
    return DevelopmentConfig()


settings = get_settings()
