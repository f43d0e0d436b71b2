from __future__ import annotations

from collections.abc import Mapping
from typing import (
    TYPE_CHECKING,
    Any,
    Literal,
    Self,
    TypeVar,
    cast,
)

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.problem_stage_type_0 import ProblemStageType0
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.problem_errors_type_0_item import ProblemErrorsType0Item


T = TypeVar("T", bound="Problem")


@_attrs_define
class Problem:
    """An RFC 9457 problem document; every error of every endpoint has this shape.

    Attributes:
        type_ (str):
        title (str):
        status (int):
        detail (str):
        code (str):
        retryable (bool):
        request_id (None | str):
        provider (None | str | Unset):
        provider_status (int | None | Unset):
        provider_message (None | str | Unset):
        stage (None | ProblemStageType0 | Unset): For provider failures: the step that failed.
        media_id (None | str | Unset): When the media was uploaded and only the call that delivers it failed (a Kaizala
            post, a Gupshup send).
        outcome (Literal['unknown'] | None | Unset): `unknown` when the provider may have acted (a timeout or dropped
            connection after the message was sent, or a 5xx to it): do not retry with a new key.
        retry_after (int | None | Unset): Seconds, as in Retry-After.
        errors (list[ProblemErrorsType0Item] | None | Unset): For validation errors: field, message and type of each.
    """

    type_: str
    title: str
    status: int
    detail: str
    code: str
    retryable: bool
    request_id: None | str
    provider: None | str | Unset = UNSET
    provider_status: int | None | Unset = UNSET
    provider_message: None | str | Unset = UNSET
    stage: None | ProblemStageType0 | Unset = UNSET
    media_id: None | str | Unset = UNSET
    outcome: Literal["unknown"] | None | Unset = UNSET
    retry_after: int | None | Unset = UNSET
    errors: list[ProblemErrorsType0Item] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        type_ = self.type_

        title = self.title

        status = self.status

        detail = self.detail

        code = self.code

        retryable = self.retryable

        request_id: None | str
        request_id = self.request_id

        provider: None | str | Unset
        if isinstance(self.provider, Unset):
            provider = UNSET
        else:
            provider = self.provider

        provider_status: int | None | Unset
        if isinstance(self.provider_status, Unset):
            provider_status = UNSET
        else:
            provider_status = self.provider_status

        provider_message: None | str | Unset
        if isinstance(self.provider_message, Unset):
            provider_message = UNSET
        else:
            provider_message = self.provider_message

        stage: None | str | Unset
        if isinstance(self.stage, Unset):
            stage = UNSET
        elif isinstance(self.stage, ProblemStageType0):
            stage = self.stage.value
        else:
            stage = self.stage

        media_id: None | str | Unset
        if isinstance(self.media_id, Unset):
            media_id = UNSET
        else:
            media_id = self.media_id

        outcome: Literal["unknown"] | None | Unset
        if isinstance(self.outcome, Unset):
            outcome = UNSET
        else:
            outcome = self.outcome

        retry_after: int | None | Unset
        if isinstance(self.retry_after, Unset):
            retry_after = UNSET
        else:
            retry_after = self.retry_after

        errors: list[dict[str, Any]] | None | Unset
        if isinstance(self.errors, Unset):
            errors = UNSET
        elif isinstance(self.errors, list):
            errors = []
            for errors_type_0_item_data in self.errors:
                errors_type_0_item = errors_type_0_item_data.to_dict()
                errors.append(errors_type_0_item)

        else:
            errors = self.errors

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "type": type_,
                "title": title,
                "status": status,
                "detail": detail,
                "code": code,
                "retryable": retryable,
                "request_id": request_id,
            }
        )
        if provider is not UNSET:
            field_dict["provider"] = provider
        if provider_status is not UNSET:
            field_dict["provider_status"] = provider_status
        if provider_message is not UNSET:
            field_dict["provider_message"] = provider_message
        if stage is not UNSET:
            field_dict["stage"] = stage
        if media_id is not UNSET:
            field_dict["media_id"] = media_id
        if outcome is not UNSET:
            field_dict["outcome"] = outcome
        if retry_after is not UNSET:
            field_dict["retry_after"] = retry_after
        if errors is not UNSET:
            field_dict["errors"] = errors

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.problem_errors_type_0_item import ProblemErrorsType0Item

        d = dict(src_dict)
        type_ = d.pop("type")

        title = d.pop("title")

        status = d.pop("status")

        detail = d.pop("detail")

        code = d.pop("code")

        retryable = d.pop("retryable")

        def _parse_request_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        request_id = _parse_request_id(d.pop("request_id"))

        def _parse_provider(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        provider = _parse_provider(d.pop("provider", UNSET))

        def _parse_provider_status(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        provider_status = _parse_provider_status(d.pop("provider_status", UNSET))

        def _parse_provider_message(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        provider_message = _parse_provider_message(d.pop("provider_message", UNSET))

        def _parse_stage(data: object) -> None | ProblemStageType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                stage_type_0 = ProblemStageType0(data)

                return stage_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ProblemStageType0 | Unset, data)

        stage = _parse_stage(d.pop("stage", UNSET))

        def _parse_media_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        media_id = _parse_media_id(d.pop("media_id", UNSET))

        def _parse_outcome(data: object) -> Literal["unknown"] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            outcome_type_0 = cast(Literal["unknown"], data)
            if outcome_type_0 != "unknown":
                raise ValueError(
                    f"outcome_type_0 must match const 'unknown', got '{outcome_type_0}'"
                )
            return outcome_type_0
            return cast(Literal["unknown"] | None | Unset, data)

        outcome = _parse_outcome(d.pop("outcome", UNSET))

        def _parse_retry_after(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        retry_after = _parse_retry_after(d.pop("retry_after", UNSET))

        def _parse_errors(data: object) -> list[ProblemErrorsType0Item] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                errors_type_0 = []
                _errors_type_0 = data
                for errors_type_0_item_data in _errors_type_0:
                    errors_type_0_item = ProblemErrorsType0Item.from_dict(errors_type_0_item_data)

                    errors_type_0.append(errors_type_0_item)

                return errors_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[ProblemErrorsType0Item] | None | Unset, data)

        errors = _parse_errors(d.pop("errors", UNSET))

        problem = cls(
            type_=type_,
            title=title,
            status=status,
            detail=detail,
            code=code,
            retryable=retryable,
            request_id=request_id,
            provider=provider,
            provider_status=provider_status,
            provider_message=provider_message,
            stage=stage,
            media_id=media_id,
            outcome=outcome,
            retry_after=retry_after,
            errors=errors,
        )

        problem.additional_properties = d
        return problem

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
