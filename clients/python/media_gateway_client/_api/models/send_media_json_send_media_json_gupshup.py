from __future__ import annotations

from collections.abc import Mapping
from typing import (
    Any,
    Literal,
    Self,
    TypeVar,
    cast,
)

from attrs import define as _attrs_define

from ..models.send_media_json_send_media_json_gupshup_media_type import (
    SendMediaJsonSendMediaJsonGupshupMediaType,
)
from ..types import UNSET, Unset

T = TypeVar("T", bound="SendMediaJsonSendMediaJsonGupshup")


@_attrs_define
class SendMediaJsonSendMediaJsonGupshup:
    """
    Attributes:
        provider (Literal['gupshup']): Where the media goes: `kaizala`, `gupshup`, or an installed plugin's name.
        url (str): http(s) URL of the media.
        media_type (None | SendMediaJsonSendMediaJsonGupshupMediaType | Unset): Inferred from the content when absent.
        caption (None | str | Unset): Text shown with the media. Kaizala: always; Gupshup: only with `to` (a WhatsApp
            delivery), and not for audio.
        file_type (None | str | Unset): MIME type, for a URL whose type its extension does not tell.
        app_id (None | str | Unset): Gupshup: the app; defaults to GUPSHUP_APP_ID; never `.` or `..`.
        to (None | str | Unset): Gupshup: also deliver the media to this WhatsApp user: the phone number with its
            country code, digits only (a leading + is allowed).
    """

    provider: Literal["gupshup"]
    url: str
    media_type: None | SendMediaJsonSendMediaJsonGupshupMediaType | Unset = UNSET
    caption: None | str | Unset = UNSET
    file_type: None | str | Unset = UNSET
    app_id: None | str | Unset = UNSET
    to: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        provider = self.provider

        url = self.url

        media_type: None | str | Unset
        if isinstance(self.media_type, Unset):
            media_type = UNSET
        elif isinstance(self.media_type, SendMediaJsonSendMediaJsonGupshupMediaType):
            media_type = self.media_type.value
        else:
            media_type = self.media_type

        caption: None | str | Unset
        if isinstance(self.caption, Unset):
            caption = UNSET
        else:
            caption = self.caption

        file_type: None | str | Unset
        if isinstance(self.file_type, Unset):
            file_type = UNSET
        else:
            file_type = self.file_type

        app_id: None | str | Unset
        if isinstance(self.app_id, Unset):
            app_id = UNSET
        else:
            app_id = self.app_id

        to: None | str | Unset
        if isinstance(self.to, Unset):
            to = UNSET
        else:
            to = self.to

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "provider": provider,
                "url": url,
            }
        )
        if media_type is not UNSET:
            field_dict["media_type"] = media_type
        if caption is not UNSET:
            field_dict["caption"] = caption
        if file_type is not UNSET:
            field_dict["file_type"] = file_type
        if app_id is not UNSET:
            field_dict["app_id"] = app_id
        if to is not UNSET:
            field_dict["to"] = to

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        provider = cast(Literal["gupshup"], d.pop("provider"))
        if provider != "gupshup":
            raise ValueError(f"provider must match const 'gupshup', got '{provider}'")

        url = d.pop("url")

        def _parse_media_type(
            data: object,
        ) -> None | SendMediaJsonSendMediaJsonGupshupMediaType | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                media_type_media_type = SendMediaJsonSendMediaJsonGupshupMediaType(data)

                return media_type_media_type
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | SendMediaJsonSendMediaJsonGupshupMediaType | Unset, data)

        media_type = _parse_media_type(d.pop("media_type", UNSET))

        def _parse_caption(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        caption = _parse_caption(d.pop("caption", UNSET))

        def _parse_file_type(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        file_type = _parse_file_type(d.pop("file_type", UNSET))

        def _parse_app_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        app_id = _parse_app_id(d.pop("app_id", UNSET))

        def _parse_to(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        to = _parse_to(d.pop("to", UNSET))

        send_media_json_send_media_json_gupshup = cls(
            provider=provider,
            url=url,
            media_type=media_type,
            caption=caption,
            file_type=file_type,
            app_id=app_id,
            to=to,
        )

        return send_media_json_send_media_json_gupshup
