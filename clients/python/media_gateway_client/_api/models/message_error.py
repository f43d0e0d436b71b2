from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.message_error_code import MessageErrorCode

T = TypeVar("T", bound="MessageError")


@_attrs_define
class MessageError:
    """Why a message failed.

    Attributes:
        code (MessageErrorCode):
        provider_code (None | str): The provider's own code, as a string.
        title (None | str):
        detail (None | str):
    """

    code: MessageErrorCode
    provider_code: None | str
    title: None | str
    detail: None | str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        code = self.code.value

        provider_code: None | str
        provider_code = self.provider_code

        title: None | str
        title = self.title

        detail: None | str
        detail = self.detail

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
                "provider_code": provider_code,
                "title": title,
                "detail": detail,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        code = MessageErrorCode(d.pop("code"))

        def _parse_provider_code(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        provider_code = _parse_provider_code(d.pop("provider_code"))

        def _parse_title(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        title = _parse_title(d.pop("title"))

        def _parse_detail(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        detail = _parse_detail(d.pop("detail"))

        message_error = cls(
            code=code,
            provider_code=provider_code,
            title=title,
            detail=detail,
        )

        message_error.additional_properties = d
        return message_error

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
