from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.rate_limit_per import RateLimitPer

T = TypeVar("T", bound="RateLimit")


@_attrs_define
class RateLimit:
    """An outbound limit the gateway keeps to, shared by the replicas.

    Attributes:
        calls (int):
        per_seconds (float):
        calls_per_send (int):
        per (RateLimitPer): For the whole provider, or for each part of it (each Gupshup app).
    """

    calls: int
    per_seconds: float
    calls_per_send: int
    per: RateLimitPer
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        calls = self.calls

        per_seconds = self.per_seconds

        calls_per_send = self.calls_per_send

        per = self.per.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "calls": calls,
                "per_seconds": per_seconds,
                "calls_per_send": calls_per_send,
                "per": per,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        calls = d.pop("calls")

        per_seconds = d.pop("per_seconds")

        calls_per_send = d.pop("calls_per_send")

        per = RateLimitPer(d.pop("per"))

        rate_limit = cls(
            calls=calls,
            per_seconds=per_seconds,
            calls_per_send=calls_per_send,
            per=per,
        )

        rate_limit.additional_properties = d
        return rate_limit

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
