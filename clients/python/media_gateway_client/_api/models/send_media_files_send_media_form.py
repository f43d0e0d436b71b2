from __future__ import annotations

from collections.abc import Mapping
from io import BytesIO
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from .. import types
from ..models.send_media_files_send_media_form_media_type import (
    SendMediaFilesSendMediaFormMediaType,
)
from ..models.send_media_files_send_media_form_provider import (
    SendMediaFilesSendMediaFormProvider,
)
from ..types import UNSET, File, FileTypes, Unset

T = TypeVar("T", bound="SendMediaFilesSendMediaForm")


@_attrs_define
class SendMediaFilesSendMediaForm:
    """The fields of a send. gupshup takes `app_id`, `to`; kaizala takes `group_id` (required); a field of another provider
    is refused (422). Which file types each provider takes, per media type: GET /providers.

        Attributes:
            provider (SendMediaFilesSendMediaFormProvider): Where the media goes: `kaizala`, `gupshup`, or an installed
                plugin's name.
            file (list[File] | Unset): The media: one or more files (two or more images to Kaizala make an album); or leave
                it empty and send a url. In Swagger UI: click “Add string item”, then choose the file; once more per file.
            url (str | Unset): http(s) URL of the media, instead of a file. Kaizala: the gateway downloads it; Gupshup:
                passed on for Gupshup to download.
            media_type (SendMediaFilesSendMediaFormMediaType | Unset): Inferred from the content when absent.
            caption (str | Unset): Text shown with the media. Kaizala: always; Gupshup: only with `to` (a WhatsApp
                delivery), and not for audio.
            file_type (str | Unset): MIME type, for a URL whose type its extension does not tell.
            group_id (str | Unset): Kaizala: the target group (public groups look like `<guid>@1`); never `.` or `..`.
            app_id (str | Unset): Gupshup: the app; defaults to GUPSHUP_APP_ID; never `.` or `..`.
            to (str | Unset): Gupshup: also deliver the media to this WhatsApp user: the phone number with its country code,
                digits only (a leading + is allowed).
    """

    provider: SendMediaFilesSendMediaFormProvider
    file: list[File] | Unset = UNSET
    url: str | Unset = UNSET
    media_type: SendMediaFilesSendMediaFormMediaType | Unset = UNSET
    caption: str | Unset = UNSET
    file_type: str | Unset = UNSET
    group_id: str | Unset = UNSET
    app_id: str | Unset = UNSET
    to: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        provider = self.provider.value

        file: list[FileTypes] | Unset = UNSET
        if not isinstance(self.file, Unset):
            file = []
            for file_item_data in self.file:
                file_item = file_item_data.to_tuple()

                file.append(file_item)

        url = self.url

        media_type: str | Unset = UNSET
        if not isinstance(self.media_type, Unset):
            media_type = self.media_type.value

        caption = self.caption

        file_type = self.file_type

        group_id = self.group_id

        app_id = self.app_id

        to = self.to

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "provider": provider,
            }
        )
        if file is not UNSET:
            field_dict["file"] = file
        if url is not UNSET:
            field_dict["url"] = url
        if media_type is not UNSET:
            field_dict["media_type"] = media_type
        if caption is not UNSET:
            field_dict["caption"] = caption
        if file_type is not UNSET:
            field_dict["file_type"] = file_type
        if group_id is not UNSET:
            field_dict["group_id"] = group_id
        if app_id is not UNSET:
            field_dict["app_id"] = app_id
        if to is not UNSET:
            field_dict["to"] = to

        return field_dict

    def to_multipart(self) -> types.RequestFiles:
        files: types.RequestFiles = []

        files.append(("provider", (None, str(self.provider.value).encode(), "text/plain")))

        if not isinstance(self.file, Unset):
            for file_item_element in self.file:
                files.append(("file", file_item_element.to_tuple()))

        if not isinstance(self.url, Unset):
            files.append(("url", (None, str(self.url).encode(), "text/plain")))

        if not isinstance(self.media_type, Unset):
            files.append(("media_type", (None, str(self.media_type.value).encode(), "text/plain")))

        if not isinstance(self.caption, Unset):
            files.append(("caption", (None, str(self.caption).encode(), "text/plain")))

        if not isinstance(self.file_type, Unset):
            files.append(("file_type", (None, str(self.file_type).encode(), "text/plain")))

        if not isinstance(self.group_id, Unset):
            files.append(("group_id", (None, str(self.group_id).encode(), "text/plain")))

        if not isinstance(self.app_id, Unset):
            files.append(("app_id", (None, str(self.app_id).encode(), "text/plain")))

        if not isinstance(self.to, Unset):
            files.append(("to", (None, str(self.to).encode(), "text/plain")))

        return files

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        provider = SendMediaFilesSendMediaFormProvider(d.pop("provider"))

        _file = d.pop("file", UNSET)
        file: list[File] | Unset = UNSET
        if _file is not UNSET:
            file = []
            for file_item_data in _file:
                file_item = File(payload=BytesIO(file_item_data))

                file.append(file_item)

        url = d.pop("url", UNSET)

        _media_type = d.pop("media_type", UNSET)
        media_type: SendMediaFilesSendMediaFormMediaType | Unset
        if isinstance(_media_type, Unset):
            media_type = UNSET
        else:
            media_type = SendMediaFilesSendMediaFormMediaType(_media_type)

        caption = d.pop("caption", UNSET)

        file_type = d.pop("file_type", UNSET)

        group_id = d.pop("group_id", UNSET)

        app_id = d.pop("app_id", UNSET)

        to = d.pop("to", UNSET)

        send_media_files_send_media_form = cls(
            provider=provider,
            file=file,
            url=url,
            media_type=media_type,
            caption=caption,
            file_type=file_type,
            group_id=group_id,
            app_id=app_id,
            to=to,
        )

        return send_media_files_send_media_form
