"""UnifyAccount: the balance, listings, endpoint details, caching and typed errors."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.gateways.scripted_server import ScriptedServer, whole_response
from tui_chat.gateways.base import EndpointDetails
from tui_chat.gateways.config import GatewaySettings, SecretStr
from tui_chat.gateways.errors import (
    AuthenticationError,
    ConnectionFailed,
    MalformedResponse,
    MissingAPIKeyError,
)
from tui_chat.gateways.unify import UnifyAccount

INVALID_KEY = "Invalid API key. You can generate one at https://console.unify.ai/login"


class CountingSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def get(self, url: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.paths.append(str(url).rsplit("/", 1)[-1])
        return super().get(url, **kwargs)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def account_for(base_url: str, key: str = "test-key", **kwargs: Any) -> UnifyAccount:
    settings = GatewaySettings(base_url=base_url, api_key=SecretStr(key), timeout=5)
    return UnifyAccount(settings, **kwargs)


def test_credits_are_the_balance_as_a_number(sim: Any) -> None:
    sim.credits = 12.5
    assert account_for(sim.base_url).credits() == 12.5


def test_credits_are_never_cached(sim: Any) -> None:
    account = account_for(sim.base_url)
    assert account.credits() == 50.0
    sim.add_credits(-1.25)
    assert account.credits() == 48.75


def test_listings_come_from_the_gateway(sim: Any) -> None:
    account = account_for(sim.base_url)
    models = account.models()
    assert "llama-2-70b-chat" in models and models == sorted(models)
    assert "anyscale" in account.providers()
    assert "anyscale" in account.providers(model="llama-2-70b-chat")
    endpoints = account.endpoints(model="llama-2-70b-chat")
    assert "llama-2-70b-chat@anyscale" in endpoints
    assert all(e.startswith("llama-2-70b-chat@") for e in endpoints)
    assert all(e.endswith("@anyscale") for e in account.endpoints(provider="anyscale"))
    assert all(m in models for m in account.models(provider="anyscale"))
    assert set(account.endpoints()) >= set(endpoints)


def test_endpoints_refuses_model_and_provider_together(sim: Any) -> None:
    with pytest.raises(ValueError, match="not both"):
        account_for(sim.base_url).endpoints(model="a", provider="b")


def test_endpoint_details_give_prices_per_million_and_context(sim: Any) -> None:
    details = account_for(sim.base_url).endpoint_details("llama-2-70b-chat@anyscale")
    assert isinstance(details, EndpointDetails)
    assert details.endpoint == "llama-2-70b-chat@anyscale"
    assert details.input_cost is not None and details.input_cost > 0
    assert details.output_cost is not None and details.output_cost > 0
    assert details.context_window is not None and details.context_window >= 1024


def test_has_endpoint_checks_concrete_endpoints_only(sim: Any) -> None:
    account = account_for(sim.base_url)
    assert account.has_endpoint("llama-2-70b-chat@anyscale")
    assert not account.has_endpoint("llama-2-70b-chat@nowhere")
    assert account.has_endpoint("llama-2-70b-chat@lowest-ttft")


def test_listings_and_details_are_cached_until_the_ttl(sim: Any) -> None:
    session, clock = CountingSession(), FakeClock()
    account = account_for(sim.base_url, session=session, cache_ttl_s=60, clock=clock)
    first = account.models()
    assert account.models() == first
    account.endpoint_details("llama-2-70b-chat@anyscale")
    account.endpoint_details("llama-2-70b-chat@anyscale")
    account.credits()
    account.credits()
    assert session.paths.count("models") == 1
    assert sum(p.startswith("endpoint-details") for p in session.paths) == 1
    assert session.paths.count("credits") == 2
    clock.now += 61
    account.models()
    assert session.paths.count("models") == 2
    account.clear_cache()
    account.models()
    assert session.paths.count("models") == 3


def test_wrong_key_raises_authentication_error_with_exact_detail(sim: Any) -> None:
    with pytest.raises(AuthenticationError) as caught:
        account_for(sim.base_url, key="wrong").credits()
    assert (caught.value.status, caught.value.detail) == (401, INVALID_KEY)


def test_unreachable_gateway_raises_connection_failed() -> None:
    with pytest.raises(ConnectionFailed, match="Connection refused"):
        account_for("http://127.0.0.1:9/v0").credits()


def test_missing_key_is_reported_before_any_request() -> None:
    settings = GatewaySettings(base_url="http://127.0.0.1:9/v0")
    with pytest.raises(MissingAPIKeyError, match="UNIFY_KEY"):
        UnifyAccount(settings).models()


def test_credits_body_is_parsed_as_json_never_evaluated(scripted: ScriptedServer) -> None:
    # The tutorial eval()'d this body; a hostile server must get nothing more than an error.
    scripted.script(*whole_response(200, "__import__('os').system('echo pwned')", "text/plain"))
    with pytest.raises(MalformedResponse, match="did not return JSON"):
        account_for(scripted.base_url).credits()


def test_credits_without_a_number_are_malformed(scripted: ScriptedServer) -> None:
    scripted.script(*whole_response(200, '{"id": "u", "credits": "lots"}'))
    with pytest.raises(MalformedResponse):
        account_for(scripted.base_url).credits()


def test_listing_of_the_wrong_shape_is_malformed(scripted: ScriptedServer) -> None:
    scripted.script(*whole_response(200, '{"models": ["a"]}'))
    with pytest.raises(MalformedResponse, match="list of names"):
        account_for(scripted.base_url).models()


def test_old_servers_credits_endpoint_is_used_when_the_new_one_is_missing(
    scripted: ScriptedServer,
) -> None:
    scripted.script(*whole_response(404, '{"detail": "Not Found"}'))
    scripted.script(*whole_response(200, '{"id": "u", "credits": 232.32}'))
    assert account_for(scripted.base_url).credits() == 232.32
    assert [r["path"] for r in scripted.requests] == ["/v0/credits", "/v0/get_credits"]
    assert scripted.requests[0]["headers"]["authorization"] == "Bearer test-key"
