from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.readiness_breakers_additional_property import (
    ReadinessBreakersAdditionalProperty,
)

T = TypeVar("T", bound="ReadinessBreakers")


@_attrs_define
class ReadinessBreakers:
    """Each provider's circuit breaker (for Gupshup, that of the default app)."""

    additional_properties: dict[str, ReadinessBreakersAdditionalProperty] = _attrs_field(
        init=False, factory=dict
    )

    def to_dict(self) -> dict[str, Any]:

        field_dict: dict[str, Any] = {}
        for prop_name, prop in self.additional_properties.items():
            field_dict[prop_name] = prop.value

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        readiness_breakers = cls()

        additional_properties = {}
        for prop_name, prop_dict in d.items():
            additional_property = ReadinessBreakersAdditionalProperty(prop_dict)

            additional_properties[prop_name] = additional_property

        readiness_breakers.additional_properties = additional_properties
        return readiness_breakers

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> ReadinessBreakersAdditionalProperty:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: ReadinessBreakersAdditionalProperty) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
