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

from ..models.send_media_json_send_media_json_kaizala_media_type import (
    SendMediaJsonSendMediaJsonKaizalaMediaType,
)
from ..types import UNSET, Unset

T = TypeVar("T", bound="SendMediaJsonSendMediaJsonKaizala")


@_attrs_define
class SendMediaJsonSendMediaJsonKaizala:
    """
    Attributes:
        provider (Literal['kaizala']): Where the media goes: `kaizala`, `gupshup`, or an installed plugin's name.
        url (str): http(s) URL of the media.
        group_id (None | str): Kaizala: the target group (public groups look like `<guid>@1`); never `.` or `..`.
        media_type (None | SendMediaJsonSendMediaJsonKaizalaMediaType | Unset): Inferred from the content when absent.
        caption (None | str | Unset): Text shown with the media. Kaizala: always; Gupshup: only with `to` (a WhatsApp
            delivery), and not for audio.
        file_type (None | str | Unset): MIME type, for a URL whose type its extension does not tell.
    """

    provider: Literal["kaizala"]
    url: str
    group_id: None | str
    media_type: None | SendMediaJsonSendMediaJsonKaizalaMediaType | Unset = UNSET
    caption: None | str | Unset = UNSET
    file_type: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        provider = self.provider

        url = self.url

        group_id: None | str
        group_id = self.group_id

        media_type: None | str | Unset
        if isinstance(self.media_type, Unset):
            media_type = UNSET
        elif isinstance(self.media_type, SendMediaJsonSendMediaJsonKaizalaMediaType):
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

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "provider": provider,
                "url": url,
                "group_id": group_id,
            }
        )
        if media_type is not UNSET:
            field_dict["media_type"] = media_type
        if caption is not UNSET:
            field_dict["caption"] = caption
        if file_type is not UNSET:
            field_dict["file_type"] = file_type

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        provider = cast(Literal["kaizala"], d.pop("provider"))
        if provider != "kaizala":
            raise ValueError(f"provider must match const 'kaizala', got '{provider}'")

        url = d.pop("url")

        def _parse_group_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        group_id = _parse_group_id(d.pop("group_id"))

        def _parse_media_type(
            data: object,
        ) -> None | SendMediaJsonSendMediaJsonKaizalaMediaType | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                media_type_media_type = SendMediaJsonSendMediaJsonKaizalaMediaType(data)

                return media_type_media_type
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | SendMediaJsonSendMediaJsonKaizalaMediaType | Unset, data)

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

        send_media_json_send_media_json_kaizala = cls(
            provider=provider,
            url=url,
            group_id=group_id,
            media_type=media_type,
            caption=caption,
            file_type=file_type,
        )

        return send_media_json_send_media_json_kaizala
