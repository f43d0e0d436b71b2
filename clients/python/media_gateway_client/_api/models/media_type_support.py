from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="MediaTypeSupport")


@_attrs_define
class MediaTypeSupport:
    """What a provider takes as one media type.

    Attributes:
        mime_types (list[str]):
        max_bytes (int): The largest file, the gateway's limit included.
    """

    mime_types: list[str]
    max_bytes: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        mime_types = self.mime_types

        max_bytes = self.max_bytes

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "mime_types": mime_types,
                "max_bytes": max_bytes,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        mime_types = cast(list[str], d.pop("mime_types"))

        max_bytes = d.pop("max_bytes")

        media_type_support = cls(
            mime_types=mime_types,
            max_bytes=max_bytes,
        )

        media_type_support.additional_properties = d
        return media_type_support

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
