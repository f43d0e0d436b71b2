from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.provider_map_breaker import ProviderMapBreaker
from ..models.provider_map_events_type_0 import ProviderMapEventsType0
from ..models.provider_map_inputs_item import ProviderMapInputsItem
from ..models.provider_map_mode import ProviderMapMode
from ..models.provider_map_url import ProviderMapUrl
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.provider_map_delivery_formats import ProviderMapDeliveryFormats
    from ..models.provider_map_delivery_max_bytes import ProviderMapDeliveryMaxBytes
    from ..models.provider_map_events_apps import ProviderMapEventsApps
    from ..models.provider_map_media_types import ProviderMapMediaTypes
    from ..models.provider_map_target_fields import ProviderMapTargetFields
    from ..models.rate_limit import RateLimit


T = TypeVar("T", bound="ProviderMap")


@_attrs_define
class ProviderMap:
    """One provider: how it is wired, what it accepts, and where a send goes.

    Attributes:
        mode (ProviderMapMode):
        inputs (list[ProviderMapInputsItem]):
        url (ProviderMapUrl): A url is downloaded by the gateway, or passed on for the provider to fetch.
        media_types (ProviderMapMediaTypes):
        album_sizes (list[int] | None): Files in an album, or null.
        captions (bool):
        caption_media_types (list[str] | None): The media types that take a caption (null: all).
        caption_requires (None | str): A target field without which no caption is taken (Gupshup: `to`).
        target_fields (ProviderMapTargetFields): The provider's own request fields, as JSON Schema, with `required`.
        delivery (None | str): The target field that delivers the media to a person (Gupshup: `to`), or null when the
            provider's send is the delivery.
        delivery_max_bytes (ProviderMapDeliveryMaxBytes): Per media type, the largest file a delivery takes (checked
            before upload).
        delivery_formats (ProviderMapDeliveryFormats): Per media type, the MIME types a delivery takes where they are
            fewer than an upload's (a WhatsApp image is JPEG or PNG; WebP is a sticker).
        breaker (ProviderMapBreaker):
        rate_limit (None | RateLimit):
        events (None | ProviderMapEventsType0 | Unset): Whether the provider posts its messages' events to the gateway:
            null for a provider without events; `subscribed` (in the sandbox: in the process), `not_configured` (live
            without GATEWAY_PUBLIC_URL and GUPSHUP_EVENTS_TOKEN), or `failed` (see `events_apps`).
        events_apps (ProviderMapEventsApps | Unset): Per part of the provider (each Gupshup app) the gateway delivered
            through: its subscription's status (`subscribed`, `failed`, `pending`) and why.
    """

    mode: ProviderMapMode
    inputs: list[ProviderMapInputsItem]
    url: ProviderMapUrl
    media_types: ProviderMapMediaTypes
    album_sizes: list[int] | None
    captions: bool
    caption_media_types: list[str] | None
    caption_requires: None | str
    target_fields: ProviderMapTargetFields
    delivery: None | str
    delivery_max_bytes: ProviderMapDeliveryMaxBytes
    delivery_formats: ProviderMapDeliveryFormats
    breaker: ProviderMapBreaker
    rate_limit: None | RateLimit
    events: None | ProviderMapEventsType0 | Unset = UNSET
    events_apps: ProviderMapEventsApps | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.rate_limit import RateLimit

        mode = self.mode.value

        inputs = []
        for inputs_item_data in self.inputs:
            inputs_item = inputs_item_data.value
            inputs.append(inputs_item)

        url = self.url.value

        media_types = self.media_types.to_dict()

        album_sizes: list[int] | None
        if isinstance(self.album_sizes, list):
            album_sizes = []
            for album_sizes_type_0_item_data in self.album_sizes:
                album_sizes_type_0_item: int
                album_sizes_type_0_item = album_sizes_type_0_item_data
                album_sizes.append(album_sizes_type_0_item)

        else:
            album_sizes = self.album_sizes

        captions = self.captions

        caption_media_types: list[str] | None
        if isinstance(self.caption_media_types, list):
            caption_media_types = self.caption_media_types

        else:
            caption_media_types = self.caption_media_types

        caption_requires: None | str
        caption_requires = self.caption_requires

        target_fields = self.target_fields.to_dict()

        delivery: None | str
        delivery = self.delivery

        delivery_max_bytes = self.delivery_max_bytes.to_dict()

        delivery_formats = self.delivery_formats.to_dict()

        breaker = self.breaker.value

        rate_limit: dict[str, Any] | None
        if isinstance(self.rate_limit, RateLimit):
            rate_limit = self.rate_limit.to_dict()
        else:
            rate_limit = self.rate_limit

        events: None | str | Unset
        if isinstance(self.events, Unset):
            events = UNSET
        elif isinstance(self.events, ProviderMapEventsType0):
            events = self.events.value
        else:
            events = self.events

        events_apps: dict[str, Any] | Unset = UNSET
        if not isinstance(self.events_apps, Unset):
            events_apps = self.events_apps.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "mode": mode,
                "inputs": inputs,
                "url": url,
                "media_types": media_types,
                "album_sizes": album_sizes,
                "captions": captions,
                "caption_media_types": caption_media_types,
                "caption_requires": caption_requires,
                "target_fields": target_fields,
                "delivery": delivery,
                "delivery_max_bytes": delivery_max_bytes,
                "delivery_formats": delivery_formats,
                "breaker": breaker,
                "rate_limit": rate_limit,
            }
        )
        if events is not UNSET:
            field_dict["events"] = events
        if events_apps is not UNSET:
            field_dict["events_apps"] = events_apps

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.provider_map_delivery_formats import ProviderMapDeliveryFormats
        from ..models.provider_map_delivery_max_bytes import ProviderMapDeliveryMaxBytes
        from ..models.provider_map_events_apps import ProviderMapEventsApps
        from ..models.provider_map_media_types import ProviderMapMediaTypes
        from ..models.provider_map_target_fields import ProviderMapTargetFields
        from ..models.rate_limit import RateLimit

        d = dict(src_dict)
        mode = ProviderMapMode(d.pop("mode"))

        inputs = []
        _inputs = d.pop("inputs")
        for inputs_item_data in _inputs:
            inputs_item = ProviderMapInputsItem(inputs_item_data)

            inputs.append(inputs_item)

        url = ProviderMapUrl(d.pop("url"))

        media_types = ProviderMapMediaTypes.from_dict(d.pop("media_types"))

        def _parse_album_sizes(data: object) -> list[int] | None:
            if data is None:
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                album_sizes_type_0 = []
                _album_sizes_type_0 = data
                for album_sizes_type_0_item_data in _album_sizes_type_0:

                    def _parse_album_sizes_type_0_item(data: object) -> int:
                        return cast(int, data)

                    album_sizes_type_0_item = _parse_album_sizes_type_0_item(
                        album_sizes_type_0_item_data
                    )

                    album_sizes_type_0.append(album_sizes_type_0_item)

                return album_sizes_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[int] | None, data)

        album_sizes = _parse_album_sizes(d.pop("album_sizes"))

        captions = d.pop("captions")

        def _parse_caption_media_types(data: object) -> list[str] | None:
            if data is None:
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                caption_media_types_type_0 = cast(list[str], data)

                return caption_media_types_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None, data)

        caption_media_types = _parse_caption_media_types(d.pop("caption_media_types"))

        def _parse_caption_requires(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        caption_requires = _parse_caption_requires(d.pop("caption_requires"))

        target_fields = ProviderMapTargetFields.from_dict(d.pop("target_fields"))

        def _parse_delivery(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        delivery = _parse_delivery(d.pop("delivery"))

        delivery_max_bytes = ProviderMapDeliveryMaxBytes.from_dict(d.pop("delivery_max_bytes"))

        delivery_formats = ProviderMapDeliveryFormats.from_dict(d.pop("delivery_formats"))

        breaker = ProviderMapBreaker(d.pop("breaker"))

        def _parse_rate_limit(data: object) -> None | RateLimit:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                rate_limit_type_0 = RateLimit.from_dict(data)

                return rate_limit_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RateLimit, data)

        rate_limit = _parse_rate_limit(d.pop("rate_limit"))

        def _parse_events(data: object) -> None | ProviderMapEventsType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                events_type_0 = ProviderMapEventsType0(data)

                return events_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ProviderMapEventsType0 | Unset, data)

        events = _parse_events(d.pop("events", UNSET))

        _events_apps = d.pop("events_apps", UNSET)
        events_apps: ProviderMapEventsApps | Unset
        if isinstance(_events_apps, Unset):
            events_apps = UNSET
        else:
            events_apps = ProviderMapEventsApps.from_dict(_events_apps)

        provider_map = cls(
            mode=mode,
            inputs=inputs,
            url=url,
            media_types=media_types,
            album_sizes=album_sizes,
            captions=captions,
            caption_media_types=caption_media_types,
            caption_requires=caption_requires,
            target_fields=target_fields,
            delivery=delivery,
            delivery_max_bytes=delivery_max_bytes,
            delivery_formats=delivery_formats,
            breaker=breaker,
            rate_limit=rate_limit,
            events=events,
            events_apps=events_apps,
        )

        provider_map.additional_properties = d
        return provider_map

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
