"""Clients: who a key belongs to, and what its client may send to."""

from __future__ import annotations

import pytest

from gateway.errors import ForbiddenError, UnauthorizedError
from gateway.pipeline.clients import ANONYMOUS, Client, Clients, key_hash
from providers.gupshup import GupshupTarget
from providers.kaizala import KaizalaTarget

KEY = "billing-client-key-0123"
BILLING = Client(
    "billing",
    providers=frozenset({"gupshup"}),
    targets={"gupshup": {"app_id": ("billing-*", "shared-app"), "to": ("91*",)}},
)


def test_a_key_is_known_by_its_hash_and_its_records_follow_the_hash() -> None:
    clients = Clients({key_hash(KEY): BILLING})
    caller = clients.identify(KEY)
    assert caller.client is BILLING
    assert caller.scope == key_hash(KEY)[:32]  # the scope earlier versions gave the key
    for offered in (None, "another-key-0123456789"):
        with pytest.raises(UnauthorizedError):
            clients.identify(offered)


def test_without_clients_every_caller_is_anonymous() -> None:
    caller = Clients({}).identify(None)
    assert (caller.client.name, caller.scope) == (ANONYMOUS, ANONYMOUS)


@pytest.mark.parametrize(
    ("provider", "target", "field"),
    [
        ("kaizala", KaizalaTarget(group_id="g@1"), "provider"),
        ("gupshup", GupshupTarget(app_id="other-app"), "app_id"),
        ("gupshup", GupshupTarget(app_id="xbilling-1"), "app_id"),
        ("gupshup", GupshupTarget(app_id="shared-app", to="447700900000"), "to"),
    ],
)
def test_outside_the_scope_is_forbidden_naming_the_field(
    provider: str, target: object, field: str
) -> None:
    with pytest.raises(ForbiddenError) as refused:
        BILLING.check(provider, target)  # type: ignore[arg-type]
    assert refused.value.errors is not None
    assert refused.value.errors[0]["field"] == field


@pytest.mark.parametrize(
    "target",
    [
        GupshupTarget(app_id="billing-eu"),
        GupshupTarget(app_id="shared-app", to="919876543210"),
        GupshupTarget(app_id="billing-1"),  # no `to`: an upload sends to nobody
    ],
)
def test_inside_the_scope_passes(target: GupshupTarget) -> None:
    BILLING.check("gupshup", target)


def test_a_client_without_restrictions_may_send_anywhere() -> None:
    Client("ops").check("kaizala", KaizalaTarget(group_id="anything@1"))


def test_only_the_star_is_special_in_a_listed_value() -> None:
    odd = Client("odd", targets={"gupshup": {"app_id": ("app-[eu]?*",)}})
    odd.check("gupshup", GupshupTarget(app_id="app-[eu]?-1"))
    for other in ("app-e?-1", "app-[eu]x-1", "xapp-[eu]?"):
        with pytest.raises(ForbiddenError):
            odd.check("gupshup", GupshupTarget(app_id=other))
