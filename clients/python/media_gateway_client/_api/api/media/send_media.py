from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.send_media_files_send_media_form import SendMediaFilesSendMediaForm
from ...models.send_media_json_send_media_json_gupshup import (
    SendMediaJsonSendMediaJsonGupshup,
)
from ...models.send_media_json_send_media_json_kaizala import (
    SendMediaJsonSendMediaJsonKaizala,
)
from ...models.send_media_response import SendMediaResponse
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: SendMediaFilesSendMediaForm
    | SendMediaJsonSendMediaJsonGupshup
    | SendMediaJsonSendMediaJsonKaizala
    | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_request_id, Unset):
        headers["X-Request-ID"] = x_request_id

    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/send-media",
    }

    if isinstance(body, SendMediaFilesSendMediaForm):
        _kwargs["files"] = body.to_multipart()

        headers["Content-Type"] = "multipart/form-data; boundary=+++"
    if isinstance(body, SendMediaJsonSendMediaJsonGupshup | SendMediaJsonSendMediaJsonKaizala):
        if isinstance(body, SendMediaJsonSendMediaJsonGupshup):
            _kwargs["json"] = body.to_dict()
        else:
            _kwargs["json"] = body.to_dict()

        headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | SendMediaResponse | None:
    if response.status_code == 200:
        response_200 = SendMediaResponse.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

    if response.status_code == 408:
        response_408 = Problem.from_dict(response.json())

        return response_408

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = Problem.from_dict(response.json())

        return response_415

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = Problem.from_dict(response.json())

        return response_500

    if response.status_code == 502:
        response_502 = Problem.from_dict(response.json())

        return response_502

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if response.status_code == 504:
        response_504 = Problem.from_dict(response.json())

        return response_504

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Problem | SendMediaResponse]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: SendMediaFilesSendMediaForm
    | SendMediaJsonSendMediaJsonGupshup
    | SendMediaJsonSendMediaJsonKaizala
    | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Response[Problem | SendMediaResponse]:
    """Send an image, album, audio, document or video through a provider

     Send media by file upload (`multipart/form-data`, one or more `file` parts) or by
    reference (`url`, in a form or a JSON body). Two or more images to Kaizala make an album.

    With an `Idempotency-Key`, a retry never sends twice: a repeat gets the stored answer
    (`Idempotent-Replayed: true`), a repeat while the first runs gets 409.

    Every failure is an `application/problem+json` document with a stable `code`.

    Args:
        x_request_id (str | Unset):
        idempotency_key (str | Unset):
        body (SendMediaFilesSendMediaForm): The fields of a send. gupshup takes `app_id`, `to`;
            kaizala takes `group_id` (required); a field of another provider is refused (422). Which
            file types each provider takes, per media type: GET /providers.
        body (SendMediaJsonSendMediaJsonGupshup | SendMediaJsonSendMediaJsonKaizala): A send by
            URL as a JSON body.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | SendMediaResponse]
    """

    kwargs = _get_kwargs(
        body=body,
        x_request_id=x_request_id,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: SendMediaFilesSendMediaForm
    | SendMediaJsonSendMediaJsonGupshup
    | SendMediaJsonSendMediaJsonKaizala
    | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Problem | SendMediaResponse | None:
    """Send an image, album, audio, document or video through a provider

     Send media by file upload (`multipart/form-data`, one or more `file` parts) or by
    reference (`url`, in a form or a JSON body). Two or more images to Kaizala make an album.

    With an `Idempotency-Key`, a retry never sends twice: a repeat gets the stored answer
    (`Idempotent-Replayed: true`), a repeat while the first runs gets 409.

    Every failure is an `application/problem+json` document with a stable `code`.

    Args:
        x_request_id (str | Unset):
        idempotency_key (str | Unset):
        body (SendMediaFilesSendMediaForm): The fields of a send. gupshup takes `app_id`, `to`;
            kaizala takes `group_id` (required); a field of another provider is refused (422). Which
            file types each provider takes, per media type: GET /providers.
        body (SendMediaJsonSendMediaJsonGupshup | SendMediaJsonSendMediaJsonKaizala): A send by
            URL as a JSON body.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | SendMediaResponse
    """

    return sync_detailed(
        client=client,
        body=body,
        x_request_id=x_request_id,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: SendMediaFilesSendMediaForm
    | SendMediaJsonSendMediaJsonGupshup
    | SendMediaJsonSendMediaJsonKaizala
    | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Response[Problem | SendMediaResponse]:
    """Send an image, album, audio, document or video through a provider

     Send media by file upload (`multipart/form-data`, one or more `file` parts) or by
    reference (`url`, in a form or a JSON body). Two or more images to Kaizala make an album.

    With an `Idempotency-Key`, a retry never sends twice: a repeat gets the stored answer
    (`Idempotent-Replayed: true`), a repeat while the first runs gets 409.

    Every failure is an `application/problem+json` document with a stable `code`.

    Args:
        x_request_id (str | Unset):
        idempotency_key (str | Unset):
        body (SendMediaFilesSendMediaForm): The fields of a send. gupshup takes `app_id`, `to`;
            kaizala takes `group_id` (required); a field of another provider is refused (422). Which
            file types each provider takes, per media type: GET /providers.
        body (SendMediaJsonSendMediaJsonGupshup | SendMediaJsonSendMediaJsonKaizala): A send by
            URL as a JSON body.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | SendMediaResponse]
    """

    kwargs = _get_kwargs(
        body=body,
        x_request_id=x_request_id,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: SendMediaFilesSendMediaForm
    | SendMediaJsonSendMediaJsonGupshup
    | SendMediaJsonSendMediaJsonKaizala
    | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Problem | SendMediaResponse | None:
    """Send an image, album, audio, document or video through a provider

     Send media by file upload (`multipart/form-data`, one or more `file` parts) or by
    reference (`url`, in a form or a JSON body). Two or more images to Kaizala make an album.

    With an `Idempotency-Key`, a retry never sends twice: a repeat gets the stored answer
    (`Idempotent-Replayed: true`), a repeat while the first runs gets 409.

    Every failure is an `application/problem+json` document with a stable `code`.

    Args:
        x_request_id (str | Unset):
        idempotency_key (str | Unset):
        body (SendMediaFilesSendMediaForm): The fields of a send. gupshup takes `app_id`, `to`;
            kaizala takes `group_id` (required); a field of another provider is refused (422). Which
            file types each provider takes, per media type: GET /providers.
        body (SendMediaJsonSendMediaJsonGupshup | SendMediaJsonSendMediaJsonKaizala): A send by
            URL as a JSON body.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | SendMediaResponse
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            x_request_id=x_request_id,
            idempotency_key=idempotency_key,
        )
    ).parsed
