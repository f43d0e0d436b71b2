"""The gateway's own settings (GATEWAY_*); each provider has its own settings model."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIB = 1024 * 1024


class Settings(BaseSettings):
    """Configuration read from GATEWAY_* environment variables and a `.env` file."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_file=".env", extra="ignore")

    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    allow_anonymous: bool = False
    upstream_timeout_s: float = Field(default=60.0, gt=0, le=600)
    max_upload_bytes: int = Field(default=100 * MIB, gt=0)
    fetch_allow_private: bool = False
    fetch_timeout_s: float = Field(default=30.0, gt=0, le=600)
    fetch_max_redirects: int = Field(default=5, ge=0, le=20)
    client_body_timeout_s: float = Field(default=30.0, gt=0, le=600)
    redis_url: SecretStr | None = None
    log_level: str = "INFO"

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @field_validator("api_keys")
    @classmethod
    def _strong_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        for key in keys:
            if len(key.get_secret_value()) < 16:
                raise ValueError("every key in GATEWAY_API_KEYS must be at least 16 characters")
        return keys


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once on first use."""
    return Settings()
