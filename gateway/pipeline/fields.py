"""The fields of a send: those every provider takes, and each provider's target fields,
generated from the providers' specs so a new target field is declared once, in its adapter."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from providers import MediaType, ProviderSpec
from providers.http import usable_url

# RFC 6838 type/subtype names; checked in a validator so the schema shows no regex.
_MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


class CommonFields(BaseModel):
    """The fields every provider takes."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    provider: str = Field(
        min_length=1,
        max_length=64,
        description="Where the media goes: `kaizala`, `gupshup`, or an installed plugin's name.",
        examples=["kaizala"],
    )
    url: str | None = Field(
        default=None,
        max_length=2048,
        description="http(s) URL of the media, instead of a file. Kaizala: the gateway "
        "downloads it; Gupshup: passed on for Gupshup to download.",
        examples=["https://example.com/photo.png"],
    )
    media_type: MediaType | None = Field(
        default=None, description="Inferred from the content when absent."
    )
    caption: str | None = Field(
        default=None,
        max_length=1024,
        description="Text shown with the media. Kaizala: always; Gupshup: only with `to` "
        "(a WhatsApp delivery), and not for audio.",
    )
    file_type: str | None = Field(
        default=None,
        max_length=255,
        description="MIME type, for a URL whose type its extension does not tell.",
        examples=["image/png"],
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        # IDNA-encodes the host and percent-encodes the path, so what is checked, fetched
        # and passed on is one plain-ASCII URL.
        url = usable_url(value)
        if url is None:
            raise ValueError("url must be an http or https URL with a valid host and port")
        return str(url)

    @field_validator("file_type")
    @classmethod
    def _mime_type(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not _MIME.match(value.lower()):
            raise ValueError("file_type must be a MIME type such as image/png")
        return value


COMMON_FIELDS = frozenset(CommonFields.model_fields)


@dataclass(frozen=True)
class SendModels:
    """The request models of one gateway, built from the providers it knows."""

    fields: type[CommonFields]  # a form: the common fields and every target field, optional
    json: type[CommonFields]  # a JSON body: the same, with `url` required


def send_models(specs: Mapping[str, ProviderSpec]) -> SendModels:
    """The request models for these providers. Two providers may share a target field
    name; the first one's definition documents it, and each validates it its own way."""
    extra: dict[str, Any] = {}
    for spec in specs.values():
        for name, info in spec.target.model_fields.items():
            if name in COMMON_FIELDS:
                raise ValueError(f"{spec.name}'s target field {name!r} is a common field")
            if name in extra:
                continue
            # The target's field with its constraints, optional here: which fields a provider
            # requires is for its own target model to say.
            optional = copy.copy(info)
            optional.default = None
            annotation: Any = info.annotation
            extra[name] = (annotation | None, optional)
    fields = create_model(
        "SendMediaFields",
        __base__=CommonFields,
        __doc__="The fields of a send, from a form or a JSON body.",
        **extra,
    )
    json_body = create_model(
        "SendMediaJson",
        __base__=fields,
        __doc__="A send by URL as a JSON body.",
        url=(
            str,
            Field(
                max_length=2048,
                description="http(s) URL of the media.",
                examples=["https://example.com/photo.png"],
            ),
        ),
    )
    return SendModels(fields=fields, json=json_body)


def non_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A field's JSON Schema with pydantic's `anyOf: [X, {type: null}]` written as plain X
    (the field's own keys, such as its description, kept over X's)."""
    plain = dict(schema)
    for variant in plain.pop("anyOf", None) or ():
        if variant.get("type") != "null":
            for key, value in variant.items():
                plain.setdefault(key, value)
    return plain
