"""Kaizala's configuration, what it accepts, and where a send goes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from providers.base import OPAQUE_ID_PATTERN, ProviderSettings, opaque_id
from providers.http import checked_base
from providers.media import MediaType

NAME = "kaizala"
ACTION_TYPES = {
    MediaType.IMAGE: "Image",
    MediaType.ALBUM: "Album",
    MediaType.AUDIO: "Audio",
    MediaType.DOCUMENT: "Document",
    MediaType.VIDEO: "Video",
}
IMAGES = frozenset({"image/jpeg", "image/png"})
FORMATS = {
    MediaType.IMAGE: IMAGES,
    MediaType.ALBUM: IMAGES,
    MediaType.AUDIO: frozenset({"audio/mpeg", "audio/wav", "audio/x-wav"}),
    MediaType.DOCUMENT: frozenset(
        {
            "application/msword",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.ms-excel",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/pdf",
        }
    ),
    MediaType.VIDEO: frozenset({"video/mp4", "video/3gpp"}),
}
TOKEN_ERROR_CODES = frozenset({"InvalidToken", "Unauthenticated"})
MAX_MOVES = 3


class KaizalaSettings(ProviderSettings):
    """Kaizala credentials: token-refresh mode or static-token mode; none means sandbox."""

    model_config = SettingsConfigDict(env_prefix="KAIZALA_", env_file=".env", extra="ignore")

    auth_url: str = "https://api.kaiza.la"
    application_id: str | None = None
    application_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    endpoint_url: str | None = None
    access_token: SecretStr | None = None
    album_max_images: int = Field(default=10, ge=2, le=100)
    token_refresh_margin_s: float = Field(default=300.0, ge=0)

    @property
    def live(self) -> bool:
        return any(value is not None for value in self._credentials().values())

    def _credentials(self) -> dict[str, object]:
        return {
            "KAIZALA_APPLICATION_ID": self.application_id,
            "KAIZALA_APPLICATION_SECRET": self.application_secret,
            "KAIZALA_REFRESH_TOKEN": self.refresh_token,
            "KAIZALA_ENDPOINT_URL": self.endpoint_url,
            "KAIZALA_ACCESS_TOKEN": self.access_token,
        }

    @model_validator(mode="after")
    def _check_mode(self) -> KaizalaSettings:
        given = {name for name, value in self._credentials().items() if value is not None}
        refresh = ["KAIZALA_APPLICATION_ID", "KAIZALA_APPLICATION_SECRET", "KAIZALA_REFRESH_TOKEN"]
        static = ["KAIZALA_ENDPOINT_URL", "KAIZALA_ACCESS_TOKEN"]
        if given & set(refresh) and given & set(static):
            raise ValueError(
                "set either the token-refresh variables (KAIZALA_APPLICATION_ID, "
                "KAIZALA_APPLICATION_SECRET, KAIZALA_REFRESH_TOKEN) or the static-token ones "
                "(KAIZALA_ENDPOINT_URL, KAIZALA_ACCESS_TOKEN), not both"
            )
        for mode, names in (("token-refresh", refresh), ("static-token", static)):
            missing = [name for name in names if name not in given]
            if given & set(names) and missing:
                raise ValueError(
                    f"{', '.join(sorted(given))} set, so Kaizala is meant to be live, but "
                    f"{mode} mode also needs {' and '.join(missing)}"
                )
        for name, url in (
            ("KAIZALA_AUTH_URL", self.auth_url),
            ("KAIZALA_ENDPOINT_URL", self.endpoint_url),
        ):
            if url is not None and checked_base(url) is None:
                raise ValueError(f"{name} is not an http or https URL")
        self.refuse_placeholders(
            KAIZALA_APPLICATION_SECRET=self.application_secret,
            KAIZALA_REFRESH_TOKEN=self.refresh_token,
            KAIZALA_ACCESS_TOKEN=self.access_token,
        )
        return self


class KaizalaTarget(BaseModel):
    """Where a Kaizala send goes."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    group_id: str = Field(
        min_length=1,
        max_length=256,
        description="Kaizala: the target group (public groups look like `<guid>@1`); "
        "never `.` or `..`.",
        examples=["6a4f8c1e-0000-4000-8000-000000000000@1"],
        json_schema_extra={"pattern": OPAQUE_ID_PATTERN},
    )

    _safe_id = field_validator("group_id")(opaque_id)
