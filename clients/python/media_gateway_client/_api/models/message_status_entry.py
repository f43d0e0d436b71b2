from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.message_status_entry_status import MessageStatusEntryStatus

T = TypeVar("T", bound="MessageStatusEntry")


@_attrs_define
class MessageStatusEntry:
    """One status of a message, at the provider's time.

    Attributes:
        status (MessageStatusEntryStatus):
        at (str): RFC 3339, UTC.
    """

    status: MessageStatusEntryStatus
    at: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        status = self.status.value

        at = self.at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "status": status,
                "at": at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        status = MessageStatusEntryStatus(d.pop("status"))

        at = d.pop("at")

        message_status_entry = cls(
            status=status,
            at=at,
        )

        message_status_entry.additional_properties = d
        return message_status_entry

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
