from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.events_stored import EventsStored
from ...models.http_validation_error import HTTPValidationError
from ...models.problem import Problem
from ...models.provider_events_body import ProviderEventsBody
from ...types import UNSET, Response, Unset


def _get_kwargs(
    provider: str,
    *,
    body: ProviderEventsBody,
    x_events_token: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_events_token, Unset):
        headers["X-Events-Token"] = x_events_token

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/providers/{provider}/events".format(
            provider=quote(str(provider), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> EventsStored | HTTPValidationError | Problem | None:
    if response.status_code == 200:
        response_200 = EventsStored.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

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
) -> Response[EventsStored | HTTPValidationError | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    provider: str,
    *,
    client: AuthenticatedClient | Client,
    body: ProviderEventsBody,
    x_events_token: None | str | Unset = UNSET,
) -> Response[EventsStored | HTTPValidationError | Problem]:
    """Provider event callbacks (Gupshup's subscription)

     Where a provider posts its messages' events (Gupshup's subscription callbacks:
    version 3, version 2, connectivity checks). Answered 200 once the body is stored; the
    events are applied and the webhooks posted after that. No X-API-Key: the one route to
    expose to the internet.

    Args:
        provider (str): The provider posting (gupshup).
        x_events_token (None | str | Unset): Gupshup: one of GUPSHUP_EVENTS_TOKEN's tokens (the
            subscription's `meta` makes Gupshup send it).
        body (ProviderEventsBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[EventsStored | HTTPValidationError | Problem]
    """

    kwargs = _get_kwargs(
        provider=provider,
        body=body,
        x_events_token=x_events_token,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    provider: str,
    *,
    client: AuthenticatedClient | Client,
    body: ProviderEventsBody,
    x_events_token: None | str | Unset = UNSET,
) -> EventsStored | HTTPValidationError | Problem | None:
    """Provider event callbacks (Gupshup's subscription)

     Where a provider posts its messages' events (Gupshup's subscription callbacks:
    version 3, version 2, connectivity checks). Answered 200 once the body is stored; the
    events are applied and the webhooks posted after that. No X-API-Key: the one route to
    expose to the internet.

    Args:
        provider (str): The provider posting (gupshup).
        x_events_token (None | str | Unset): Gupshup: one of GUPSHUP_EVENTS_TOKEN's tokens (the
            subscription's `meta` makes Gupshup send it).
        body (ProviderEventsBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        EventsStored | HTTPValidationError | Problem
    """

    return sync_detailed(
        provider=provider,
        client=client,
        body=body,
        x_events_token=x_events_token,
    ).parsed


async def asyncio_detailed(
    provider: str,
    *,
    client: AuthenticatedClient | Client,
    body: ProviderEventsBody,
    x_events_token: None | str | Unset = UNSET,
) -> Response[EventsStored | HTTPValidationError | Problem]:
    """Provider event callbacks (Gupshup's subscription)

     Where a provider posts its messages' events (Gupshup's subscription callbacks:
    version 3, version 2, connectivity checks). Answered 200 once the body is stored; the
    events are applied and the webhooks posted after that. No X-API-Key: the one route to
    expose to the internet.

    Args:
        provider (str): The provider posting (gupshup).
        x_events_token (None | str | Unset): Gupshup: one of GUPSHUP_EVENTS_TOKEN's tokens (the
            subscription's `meta` makes Gupshup send it).
        body (ProviderEventsBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[EventsStored | HTTPValidationError | Problem]
    """

    kwargs = _get_kwargs(
        provider=provider,
        body=body,
        x_events_token=x_events_token,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    provider: str,
    *,
    client: AuthenticatedClient | Client,
    body: ProviderEventsBody,
    x_events_token: None | str | Unset = UNSET,
) -> EventsStored | HTTPValidationError | Problem | None:
    """Provider event callbacks (Gupshup's subscription)

     Where a provider posts its messages' events (Gupshup's subscription callbacks:
    version 3, version 2, connectivity checks). Answered 200 once the body is stored; the
    events are applied and the webhooks posted after that. No X-API-Key: the one route to
    expose to the internet.

    Args:
        provider (str): The provider posting (gupshup).
        x_events_token (None | str | Unset): Gupshup: one of GUPSHUP_EVENTS_TOKEN's tokens (the
            subscription's `meta` makes Gupshup send it).
        body (ProviderEventsBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        EventsStored | HTTPValidationError | Problem
    """

    return (
        await asyncio_detailed(
            provider=provider,
            client=client,
            body=body,
            x_events_token=x_events_token,
        )
    ).parsed
