"""The gateway's own settings (GATEWAY_*); each provider has its own settings model."""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gateway.pipeline.fetch import PRIVATE_NETWORKS

MIB = 1024 * 1024

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class StartupError(RuntimeError):
    """The configuration does not allow the gateway to start."""


class Settings(BaseSettings):
    """Configuration read from GATEWAY_* environment variables and a `.env` file."""

    # Never echo a value in a validation error: GATEWAY_API_KEYS and GATEWAY_REDIS_URL hold
    # secrets, and any variable may hold one pasted by mistake.
    # An empty variable counts as not set (an .env copied from deploy/.env.example).
    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_",
        env_file=".env",
        extra="ignore",
        hide_input_in_errors=True,
        env_ignore_empty=True,
    )

    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # A TOML file of named clients: their keys' hashes, scopes, quotas, webhooks.
    clients_file: Path | None = None
    # Where and how `python -m gateway` serves (its --host, --port, --workers win).
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    allow_anonymous: bool = False
    # Providers that must be live ("all", or comma-separated names): a deployment whose
    # Secret lacks credentials refuses to start instead of serving from the sandboxes.
    require_live: Annotated[list[str], NoDecode] = Field(default_factory=list)
    upstream_timeout_s: float = Field(default=60.0, gt=0, le=600)
    request_deadline_s: float = Field(default=150.0, gt=0, le=3600)
    max_upload_bytes: int = Field(default=100 * MIB, gt=0)
    # Spool files kept for reuse after their upload (gateway.pipeline.spool): in all, and
    # how long an unused one stays.
    spool_keep_bytes: int = Field(default=512 * MIB, ge=0)
    spool_keep_s: float = Field(default=600.0, ge=0)
    # Networks URL downloads may reach although not public: "true" for loopback and the
    # private ranges, or CIDRs, comma-separated (gateway.pipeline.fetch.fetch_policy).
    fetch_allow_private: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(
        default_factory=list
    )
    fetch_timeout_s: float = Field(default=30.0, gt=0, le=600)
    fetch_max_redirects: int = Field(default=5, ge=0, le=20)
    client_header_timeout_s: float = Field(default=10.0, gt=0, le=600)
    client_body_timeout_s: float = Field(default=30.0, gt=0, le=600)
    client_body_min_rate: int = Field(default=10_240, ge=0)
    max_concurrency: int = Field(default=256, ge=1)
    shutdown_delay_s: float = Field(default=3.0, ge=0, le=300)
    drain_s: float = Field(default=30.0, ge=1, le=3600)
    redis_url: SecretStr | None = None
    idempotency_ttl_s: float = Field(default=86_400.0, gt=0)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_open_s: float = Field(default=30.0, gt=0, le=3600)
    # Overrides of the providers' documented outbound limits: "name=calls/seconds" or
    # "name=off", comma-separated.
    rate_limits: Annotated[dict[str, tuple[int, float] | None], NoDecode] = Field(
        default_factory=dict
    )
    log_level: LogLevel = "INFO"
    # Messages and their events (README, "Delivery status").
    public_url: str | None = None  # the gateway's base URL as providers reach it
    message_ttl_s: float = Field(default=2_592_000.0, gt=0)
    webhook_retry_s: float = Field(default=259_200.0, gt=0)
    # Seconds before each webhook retry, comma-separated; the last one repeats.
    webhook_retry_schedule: Annotated[list[float], NoDecode] = Field(default_factory=list)
    # Events waiting for one client's webhook at most; more are refused (counted, logged).
    webhook_max_backlog: int = Field(default=10_000, ge=1)
    # Whether this process runs the worker (events applied, webhooks posted) beside serving.
    worker: bool = True

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parsed = urlsplit(value.strip())
        if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.query:
            raise ValueError(
                "must be the gateway's http or https base URL, such as https://gw.example.com"
            )
        return value.strip().rstrip("/")

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _split_schedule(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                delays = [float(part) for part in value.split(",") if part.strip()]
            except ValueError:
                raise ValueError("must be seconds, comma-separated (5,30,120)") from None
            if any(d <= 0 for d in delays):
                raise ValueError("every delay must be positive")
            return delays
        return value

    @field_validator("require_live", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("fetch_allow_private", mode="before")
    @classmethod
    def _parse_networks(cls, value: object) -> object:
        if isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            return value
        text = value.strip().lower()
        if text in ("", "false", "0", "no", "off"):
            return []
        if text in ("true", "1", "yes", "on"):
            return list(PRIVATE_NETWORKS)
        networks = []
        for item in filter(None, (part.strip() for part in text.split(","))):
            try:
                networks.append(ip_network(item, strict=False))
            except ValueError:
                raise ValueError(
                    "must be true, false, or networks in CIDR form, comma-separated "
                    "(10.20.0.0/16,fd12::/64)"
                ) from None
        return networks

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("rate_limits", mode="before")
    @classmethod
    def _parse_limits(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        limits: dict[str, tuple[int, float] | None] = {}
        for item in filter(None, (part.strip() for part in value.split(","))):
            name, _, limit = item.partition("=")
            if limit.strip() == "off":
                limits[name.strip()] = None
                continue
            calls, _, seconds = limit.partition("/")
            try:
                parsed = (int(calls), float(seconds))
            except ValueError:
                raise ValueError(
                    f"{item!r} is not name=calls/seconds (kaizala=100/60) or name=off"
                ) from None
            if parsed[0] < 1 or parsed[1] <= 0:
                raise ValueError(f"{item!r} needs at least 1 call per a positive time")
            limits[name.strip()] = parsed
        return limits

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
                raise ValueError("every key must be at least 16 characters")
        return keys


def describe(exc: ValidationError, model: type[BaseSettings]) -> str:
    """A settings error as `VARIABLE: reason; ...`, naming variables and never a value."""
    prefix = str(model.model_config.get("env_prefix") or "").upper()
    reasons = []
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        location = [str(part) for part in error["loc"]]
        message = str(error["msg"]).removeprefix("Value error, ")
        if location:
            reasons.append(f"{prefix}{location[0].upper()}: {message}")
        else:
            reasons.append(message)
    return "; ".join(reasons)


def load(model: type[Any]) -> Any:
    """Build a settings model from the environment, or raise a one-line StartupError."""
    try:
        return model()
    except ValidationError as exc:
        raise StartupError(describe(exc, model)) from None


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once on first use; a bad value is a StartupError."""
    settings: Settings = load(Settings)
    return settings
