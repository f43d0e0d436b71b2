from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.media_type import MediaType
from ..models.message_response_status import MessageResponseStatus

if TYPE_CHECKING:
    from ..models.message_error import MessageError
    from ..models.message_status_entry import MessageStatusEntry


T = TypeVar("T", bound="MessageResponse")


@_attrs_define
class MessageResponse:
    """A message a delivering send created, with its delivery status.

    Attributes:
        message_id (str): As /send-media answered it.
        provider (str):
        status (MessageResponseStatus): Moves forward only along accepted, sent, delivered, read; failed may follow any;
            a delivered or read after failed wins.
        to (None | str): The recipient's number.
        media_id (None | str):
        media_type (MediaType): The kinds of media the gateway sends.
        created_at (str): RFC 3339, UTC.
        updated_at (str): RFC 3339, UTC: the provider's time of the last change.
        history (list[MessageStatusEntry]): Each status once, in the order applied.
        error (MessageError | None): Why it failed; kept after a later delivered.
        sandbox (bool):
    """

    message_id: str
    provider: str
    status: MessageResponseStatus
    to: None | str
    media_id: None | str
    media_type: MediaType
    created_at: str
    updated_at: str
    history: list[MessageStatusEntry]
    error: MessageError | None
    sandbox: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.message_error import MessageError

        message_id = self.message_id

        provider = self.provider

        status = self.status.value

        to: None | str
        to = self.to

        media_id: None | str
        media_id = self.media_id

        media_type = self.media_type.value

        created_at = self.created_at

        updated_at = self.updated_at

        history = []
        for history_item_data in self.history:
            history_item = history_item_data.to_dict()
            history.append(history_item)

        error: dict[str, Any] | None
        if isinstance(self.error, MessageError):
            error = self.error.to_dict()
        else:
            error = self.error

        sandbox = self.sandbox

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "message_id": message_id,
                "provider": provider,
                "status": status,
                "to": to,
                "media_id": media_id,
                "media_type": media_type,
                "created_at": created_at,
                "updated_at": updated_at,
                "history": history,
                "error": error,
                "sandbox": sandbox,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.message_error import MessageError
        from ..models.message_status_entry import MessageStatusEntry

        d = dict(src_dict)
        message_id = d.pop("message_id")

        provider = d.pop("provider")

        status = MessageResponseStatus(d.pop("status"))

        def _parse_to(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        to = _parse_to(d.pop("to"))

        def _parse_media_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        media_id = _parse_media_id(d.pop("media_id"))

        media_type = MediaType(d.pop("media_type"))

        created_at = d.pop("created_at")

        updated_at = d.pop("updated_at")

        history = []
        _history = d.pop("history")
        for history_item_data in _history:
            history_item = MessageStatusEntry.from_dict(history_item_data)

            history.append(history_item)

        def _parse_error(data: object) -> MessageError | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                error_type_0 = MessageError.from_dict(data)

                return error_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(MessageError | None, data)

        error = _parse_error(d.pop("error"))

        sandbox = d.pop("sandbox")

        message_response = cls(
            message_id=message_id,
            provider=provider,
            status=status,
            to=to,
            media_id=media_id,
            media_type=media_type,
            created_at=created_at,
            updated_at=updated_at,
            history=history,
            error=error,
            sandbox=sandbox,
        )

        message_response.additional_properties = d
        return message_response

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
