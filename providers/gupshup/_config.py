"""Gupshup's configuration and where a send goes: its settings and its target model."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from providers.base import OPAQUE_ID_PATTERN, ProviderSettings, opaque_id
from providers.http import checked_base

NAME = "gupshup"
_PHONE = re.compile(r"^[1-9][0-9]{7,14}$")


class GupshupSettings(ProviderSettings):
    """Gupshup credentials: a static app token, or the partner login chain; none means sandbox."""

    model_config = SettingsConfigDict(env_prefix="GUPSHUP_", env_file=".env", extra="ignore")

    base_url: str = "https://partner.gupshup.io"
    app_id: str | None = None
    app_token: SecretStr | None = None
    partner_email: str | None = None
    partner_secret: SecretStr | None = None
    # What Gupshup's event callbacks carry in X-Events-Token (two, comma-separated, during a
    # rotation). Not a credential: it never makes Gupshup live.
    events_token: SecretStr | None = None

    @property
    def chain_mode(self) -> bool:
        return self.partner_email is not None

    @property
    def live(self) -> bool:
        credentials = (self.app_id, self.app_token, self.partner_email, self.partner_secret)
        return any(value is not None for value in credentials)

    @model_validator(mode="after")
    def _check_mode(self) -> GupshupSettings:
        if self.app_token is not None and (self.partner_email or self.partner_secret):
            raise ValueError(
                "set either GUPSHUP_APP_TOKEN or the partner login "
                "(GUPSHUP_PARTNER_EMAIL, GUPSHUP_PARTNER_SECRET), not both"
            )
        if (self.partner_email is None) != (self.partner_secret is None):
            given, missing = (
                ("GUPSHUP_PARTNER_EMAIL", "GUPSHUP_PARTNER_SECRET")
                if self.partner_secret is None
                else ("GUPSHUP_PARTNER_SECRET", "GUPSHUP_PARTNER_EMAIL")
            )
            raise ValueError(
                f"{given} set, so Gupshup is meant to be live, but token-chain mode also "
                f"needs {missing}"
            )
        if self.app_token is not None and self.app_id is None:
            raise ValueError(
                "GUPSHUP_APP_TOKEN set, so Gupshup is meant to be live, but static app-token "
                "mode also needs GUPSHUP_APP_ID"
            )
        if self.app_id is not None and self.app_token is None and not self.chain_mode:
            raise ValueError(
                "GUPSHUP_APP_ID set, so Gupshup is meant to be live, but it needs "
                "GUPSHUP_APP_TOKEN (static app-token mode), or GUPSHUP_PARTNER_EMAIL and "
                "GUPSHUP_PARTNER_SECRET (token-chain mode)"
            )
        if checked_base(self.base_url) is None:
            raise ValueError("GUPSHUP_BASE_URL is not an http or https URL")
        self.refuse_placeholders(
            GUPSHUP_APP_TOKEN=self.app_token, GUPSHUP_PARTNER_SECRET=self.partner_secret
        )
        if self.events_token is not None:
            tokens = [t.strip() for t in self.events_token.get_secret_value().split(",")]
            if not 1 <= len(tokens) <= 2 or any(len(t) < 16 for t in tokens):
                raise ValueError(
                    "GUPSHUP_EVENTS_TOKEN must be one token, or two comma-separated during a "
                    "rotation, each at least 16 characters"
                )
        return self


class GupshupTarget(BaseModel):
    """Where a Gupshup send goes."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    app_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Gupshup: the app; defaults to GUPSHUP_APP_ID; never `.` or `..`.",
        examples=["my-app"],
        json_schema_extra={"pattern": OPAQUE_ID_PATTERN},
    )
    to: str | None = Field(
        default=None,
        max_length=16,
        description="Gupshup: also deliver the media to this WhatsApp user: the phone "
        "number with its country code, digits only (a leading + is allowed).",
        examples=["919876543210"],
        json_schema_extra={"pattern": r"^\+?[1-9][0-9]{7,14}$"},
    )

    @field_validator("app_id")
    @classmethod
    def _safe_app_id(cls, value: str | None) -> str | None:
        return value if value is None else opaque_id(value)

    @field_validator("to")
    @classmethod
    def _phone_number(cls, value: str | None) -> str | None:
        if value is None:
            return value
        digits = value.removeprefix("+")
        if not _PHONE.match(digits):
            raise ValueError(
                "to must be a phone number with its country code, 8 to 15 digits, "
                "such as 919876543210"
            )
        return digits
