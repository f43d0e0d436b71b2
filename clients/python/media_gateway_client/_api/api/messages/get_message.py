from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.http_validation_error import HTTPValidationError
from ...models.message_response import MessageResponse
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    message_id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/messages/{message_id}".format(
            message_id=quote(str(message_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> HTTPValidationError | MessageResponse | Problem | None:
    if response.status_code == 200:
        response_200 = MessageResponse.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 422:
        response_422 = HTTPValidationError.from_dict(response.json())

        return response_422

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[HTTPValidationError | MessageResponse | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    message_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[HTTPValidationError | MessageResponse | Problem]:
    """A message's delivery status

     A message that a delivering send created (Gupshup with `to`), with its delivery
    status as the provider's events moved it: accepted, sent, delivered, read, or failed
    with why. Only the client that sent it sees it (404 for any other, as for an unknown id).

    Args:
        message_id (str): As /send-media answered it.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[HTTPValidationError | MessageResponse | Problem]
    """

    kwargs = _get_kwargs(
        message_id=message_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    message_id: str,
    *,
    client: AuthenticatedClient,
) -> HTTPValidationError | MessageResponse | Problem | None:
    """A message's delivery status

     A message that a delivering send created (Gupshup with `to`), with its delivery
    status as the provider's events moved it: accepted, sent, delivered, read, or failed
    with why. Only the client that sent it sees it (404 for any other, as for an unknown id).

    Args:
        message_id (str): As /send-media answered it.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        HTTPValidationError | MessageResponse | Problem
    """

    return sync_detailed(
        message_id=message_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    message_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[HTTPValidationError | MessageResponse | Problem]:
    """A message's delivery status

     A message that a delivering send created (Gupshup with `to`), with its delivery
    status as the provider's events moved it: accepted, sent, delivered, read, or failed
    with why. Only the client that sent it sees it (404 for any other, as for an unknown id).

    Args:
        message_id (str): As /send-media answered it.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[HTTPValidationError | MessageResponse | Problem]
    """

    kwargs = _get_kwargs(
        message_id=message_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    message_id: str,
    *,
    client: AuthenticatedClient,
) -> HTTPValidationError | MessageResponse | Problem | None:
    """A message's delivery status

     A message that a delivering send created (Gupshup with `to`), with its delivery
    status as the provider's events moved it: accepted, sent, delivered, read, or failed
    with why. Only the client that sent it sees it (404 for any other, as for an unknown id).

    Args:
        message_id (str): As /send-media answered it.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        HTTPValidationError | MessageResponse | Problem
    """

    return (
        await asyncio_detailed(
            message_id=message_id,
            client=client,
        )
    ).parsed
