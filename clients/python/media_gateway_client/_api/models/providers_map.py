from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.providers_map_providers import ProvidersMapProviders


T = TypeVar("T", bound="ProvidersMap")


@_attrs_define
class ProvidersMap:
    """Every provider this gateway serves.

    Attributes:
        providers (ProvidersMapProviders):
    """

    providers: ProvidersMapProviders
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        providers = self.providers.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "providers": providers,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.providers_map_providers import ProvidersMapProviders

        d = dict(src_dict)
        providers = ProvidersMapProviders.from_dict(d.pop("providers"))

        providers_map = cls(
            providers=providers,
        )

        providers_map.additional_properties = d
        return providers_map

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
