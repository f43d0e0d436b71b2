from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.providers_map import ProvidersMap
from ...types import Response


def _get_kwargs() -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/providers",
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ProvidersMap | None:
    if response.status_code == 200:
        response_200 = ProvidersMap.from_dict(response.json())

        return response_200

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ProvidersMap]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
) -> Response[ProvidersMap]:
    """Providers Map

     What each provider accepts, generated from the same declarations every send is
    checked against: its mode (live or sandbox), media types with their MIME types and size
    limits, inputs, album sizes, captions, its own target fields, its circuit breaker and
    its outbound rate limit. With a client's X-API-Key, only the providers it may use.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ProvidersMap]
    """

    kwargs = _get_kwargs()

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
) -> ProvidersMap | None:
    """Providers Map

     What each provider accepts, generated from the same declarations every send is
    checked against: its mode (live or sandbox), media types with their MIME types and size
    limits, inputs, album sizes, captions, its own target fields, its circuit breaker and
    its outbound rate limit. With a client's X-API-Key, only the providers it may use.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ProvidersMap
    """

    return sync_detailed(
        client=client,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
) -> Response[ProvidersMap]:
    """Providers Map

     What each provider accepts, generated from the same declarations every send is
    checked against: its mode (live or sandbox), media types with their MIME types and size
    limits, inputs, album sizes, captions, its own target fields, its circuit breaker and
    its outbound rate limit. With a client's X-API-Key, only the providers it may use.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ProvidersMap]
    """

    kwargs = _get_kwargs()

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
) -> ProvidersMap | None:
    """Providers Map

     What each provider accepts, generated from the same declarations every send is
    checked against: its mode (live or sandbox), media types with their MIME types and size
    limits, inputs, album sizes, captions, its own target fields, its circuit breaker and
    its outbound rate limit. With a client's X-API-Key, only the providers it may use.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ProvidersMap
    """

    return (
        await asyncio_detailed(
            client=client,
        )
    ).parsed
