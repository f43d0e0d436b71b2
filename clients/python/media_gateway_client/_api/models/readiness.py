from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.readiness_redis import ReadinessRedis
from ..models.readiness_status import ReadinessStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.readiness_breakers import ReadinessBreakers
    from ..models.readiness_providers import ReadinessProviders


T = TypeVar("T", bound="Readiness")


@_attrs_define
class Readiness:
    """Whether the gateway can serve, and how each provider is wired.

    Attributes:
        status (ReadinessStatus):
        providers (ReadinessProviders):
        redis (ReadinessRedis):
        breakers (ReadinessBreakers | Unset): Each provider's circuit breaker (for Gupshup, that of the default app).
    """

    status: ReadinessStatus
    providers: ReadinessProviders
    redis: ReadinessRedis
    breakers: ReadinessBreakers | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        status = self.status.value

        providers = self.providers.to_dict()

        redis = self.redis.value

        breakers: dict[str, Any] | Unset = UNSET
        if not isinstance(self.breakers, Unset):
            breakers = self.breakers.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "status": status,
                "providers": providers,
                "redis": redis,
            }
        )
        if breakers is not UNSET:
            field_dict["breakers"] = breakers

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.readiness_breakers import ReadinessBreakers
        from ..models.readiness_providers import ReadinessProviders

        d = dict(src_dict)
        status = ReadinessStatus(d.pop("status"))

        providers = ReadinessProviders.from_dict(d.pop("providers"))

        redis = ReadinessRedis(d.pop("redis"))

        _breakers = d.pop("breakers", UNSET)
        breakers: ReadinessBreakers | Unset
        if isinstance(_breakers, Unset):
            breakers = UNSET
        else:
            breakers = ReadinessBreakers.from_dict(_breakers)

        readiness = cls(
            status=status,
            providers=providers,
            redis=redis,
            breakers=breakers,
        )

        readiness.additional_properties = d
        return readiness

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
