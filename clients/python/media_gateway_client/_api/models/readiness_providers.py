from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.readiness_providers_additional_property import (
    ReadinessProvidersAdditionalProperty,
)

T = TypeVar("T", bound="ReadinessProviders")


@_attrs_define
class ReadinessProviders:
    additional_properties: dict[str, ReadinessProvidersAdditionalProperty] = _attrs_field(
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
        readiness_providers = cls()

        additional_properties = {}
        for prop_name, prop_dict in d.items():
            additional_property = ReadinessProvidersAdditionalProperty(prop_dict)

            additional_properties[prop_name] = additional_property

        readiness_providers.additional_properties = additional_properties
        return readiness_providers

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> ReadinessProvidersAdditionalProperty:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: ReadinessProvidersAdditionalProperty) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
