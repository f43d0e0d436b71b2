from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.media_type import MediaType
from ..types import UNSET, Unset

T = TypeVar("T", bound="SendMediaResponse")


@_attrs_define
class SendMediaResponse:
    """The provider accepted the media.

    Attributes:
        provider (str):
        media_type (MediaType): The kinds of media the gateway sends.
        media_id (str): Kaizala mediaResource or Gupshup mediaId.
        reference_id (None | str): Kaizala referenceId, else null.
        action_id (None | str): Kaizala actionId, else null.
        sandbox (bool): True when the built-in simulator answered.
        request_id (str): The same as the X-Request-ID response header.
        message_id (None | str | Unset): Gupshup WhatsApp message id when `to` was given, else null.
        media_reused (bool | Unset): True when the media id is that of an earlier upload of the same bytes (or URL) to
            the same app, still valid: nothing was uploaded again. Default: False.
    """

    provider: str
    media_type: MediaType
    media_id: str
    reference_id: None | str
    action_id: None | str
    sandbox: bool
    request_id: str
    message_id: None | str | Unset = UNSET
    media_reused: bool | Unset = False
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        provider = self.provider

        media_type = self.media_type.value

        media_id = self.media_id

        reference_id: None | str
        reference_id = self.reference_id

        action_id: None | str
        action_id = self.action_id

        sandbox = self.sandbox

        request_id = self.request_id

        message_id: None | str | Unset
        if isinstance(self.message_id, Unset):
            message_id = UNSET
        else:
            message_id = self.message_id

        media_reused = self.media_reused

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "provider": provider,
                "media_type": media_type,
                "media_id": media_id,
                "reference_id": reference_id,
                "action_id": action_id,
                "sandbox": sandbox,
                "request_id": request_id,
            }
        )
        if message_id is not UNSET:
            field_dict["message_id"] = message_id
        if media_reused is not UNSET:
            field_dict["media_reused"] = media_reused

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        provider = d.pop("provider")

        media_type = MediaType(d.pop("media_type"))

        media_id = d.pop("media_id")

        def _parse_reference_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        reference_id = _parse_reference_id(d.pop("reference_id"))

        def _parse_action_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        action_id = _parse_action_id(d.pop("action_id"))

        sandbox = d.pop("sandbox")

        request_id = d.pop("request_id")

        def _parse_message_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        message_id = _parse_message_id(d.pop("message_id", UNSET))

        media_reused = d.pop("media_reused", UNSET)

        send_media_response = cls(
            provider=provider,
            media_type=media_type,
            media_id=media_id,
            reference_id=reference_id,
            action_id=action_id,
            sandbox=sandbox,
            request_id=request_id,
            message_id=message_id,
            media_reused=media_reused,
        )

        send_media_response.additional_properties = d
        return send_media_response

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
