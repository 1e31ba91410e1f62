"""Endpoint strings: what is accepted, what it means, and how a mistake is explained."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui_chat.core.endpoint import (
    ROUTING_MODES,
    SEED_ROUTING_MODES,
    Endpoint,
    EndpointError,
    model_of,
    parse_endpoint,
    provider_of,
)


def test_concrete_endpoint_is_split_into_model_and_provider() -> None:
    endpoint = parse_endpoint("llama-2-70b-chat@anyscale")
    assert endpoint == Endpoint(
        raw="llama-2-70b-chat@anyscale",
        model="llama-2-70b-chat",
        provider="anyscale",
        is_routing=False,
        is_fallback=False,
        candidates=("llama-2-70b-chat@anyscale",),
    )
    assert str(endpoint) == "llama-2-70b-chat@anyscale"


def test_surrounding_whitespace_is_ignored() -> None:
    assert str(parse_endpoint("  gpt-4o-mini@openai\n")) == "gpt-4o-mini@openai"


@pytest.mark.parametrize(
    "text",
    [
        "gpt-4-turbo@openai",
        "claude-3.5-sonnet@anthropic",
        "mixtral-8x7b-instruct-v0.1@together-ai",
        "llama-3.1-8b-chat@fireworks-ai",
        "my_model@custom",
        "qwen2.5:7b@local",
    ],
)
def test_real_world_names_are_accepted(text: str) -> None:
    endpoint = parse_endpoint(text)
    assert str(endpoint) == text
    assert not endpoint.is_routing


def test_legacy_uploaded_by_prefix_is_accepted_and_removed() -> None:
    endpoint = parse_endpoint("john_doe/llama-2-70b-chat@replicate")
    assert str(endpoint) == "llama-2-70b-chat@replicate"
    assert endpoint.model == "llama-2-70b-chat"
    assert endpoint.provider == "replicate"


def test_legacy_prefix_is_removed_from_every_step_of_a_fallback_chain() -> None:
    endpoint = parse_endpoint("a/llama@together-ai->b/gpt-4o@openai")
    assert str(endpoint) == "llama@together-ai->gpt-4o@openai"
    assert endpoint.candidates == ("llama@together-ai", "gpt-4o@openai")


@pytest.mark.parametrize("mode", SEED_ROUTING_MODES)
def test_seed_routing_modes_replace_the_provider(mode: str) -> None:
    endpoint = parse_endpoint(f"llama-2-70b-chat@{mode}")
    assert endpoint.is_routing
    assert endpoint.provider == mode


def test_routing_modes_list_the_seed_modes_first() -> None:
    assert ROUTING_MODES[: len(SEED_ROUTING_MODES)] == SEED_ROUTING_MODES
    assert SEED_ROUTING_MODES == (
        "highest-tks-per-sec",
        "lowest-input-cost",
        "lowest-output-cost",
        "lowest-ttft",
        "lowest-itl",
    )
    for mode in ROUTING_MODES:
        assert parse_endpoint(f"m@{mode}").is_routing


@pytest.mark.parametrize(
    "spec",
    [
        # seed-era aliases of the routing metrics
        "input-cost",
        "ic",
        "lowest-input-cost-per-token",
        "output-cost",
        "oc",
        "itl",
        "ttft",
        "tks-per-sec",
        "ots",
        "output-tks-per-sec",
        "highest-output-tks-per-sec",
        # later metric names with and without prefixes
        "quality",
        "q",
        "highest-quality",
        "lowest-cost",
        "cost",
        "c",
        "time-to-first-token",
        "t",
        "inter-token-latency",
        "i",
        "lowest-i",
        "lowest-inter-token-latency",
    ],
)
def test_routing_mode_aliases_are_routing(spec: str) -> None:
    assert parse_endpoint(f"llama-3.1-70b-chat@{spec}").is_routing


@pytest.mark.parametrize(
    "spec",
    [
        "lowest-itl<0.5input-cost",
        "ttft<0.5ic<15itl",
        "highest-tks-per-sec<1e-3ic",
    ],
)
def test_old_less_than_thresholds_are_accepted(spec: str) -> None:
    endpoint = parse_endpoint(f"llama-2-70b-chat@{spec}")
    assert endpoint.is_routing
    assert endpoint.provider == spec


@pytest.mark.parametrize(
    "spec",
    [
        "quality|input-cost<=0.8|output-cost<=0.8|itl>1|itl<20",
        "itl|providers:groq,fireworks-ai,together-ai",
        "lowest-ttft|skip_providers:openai",
        "cost|models:a,b|skip_models:c",
        "q|endpoints:a@p,b@q|skip_endpoints:c@r",
        "highest-quality|ttft>=100",
    ],
)
def test_pipe_thresholds_and_search_space_are_accepted(spec: str) -> None:
    endpoint = parse_endpoint(f"llama-3.1-70b-chat@{spec}")
    assert endpoint.is_routing
    assert endpoint.provider == spec


@pytest.mark.parametrize(
    "text",
    [
        "router@q:1|c:0.5",
        "router@q:1|c:4.65e-03|t:2.08e-05|i:2.07e-03",
        "router@quality|input-cost<0.8|output-cost<0.6|itl<20",
        "router@c:1",
        "router_mine@q:1|i:0.5",
    ],
)
def test_router_with_factors_and_thresholds_is_routing(text: str) -> None:
    endpoint = parse_endpoint(text)
    assert endpoint.is_routing
    assert endpoint.model == text.split("@")[0]
    assert str(endpoint) == text


def test_router_needs_a_routing_spec_not_a_provider() -> None:
    with pytest.raises(EndpointError, match=r"router@q:1\|c:0.5"):
        parse_endpoint("router@openai")


@pytest.mark.parametrize(
    ("text", "candidates"),
    [
        ("a->b@p1->c@p2->p3", ("a@p1", "b@p1", "c@p2", "c@p3")),
        (
            "claude-3-opus@anthropic->aws-bedrock",
            ("claude-3-opus@anthropic", "claude-3-opus@aws-bedrock"),
        ),
        (
            "gemini-1.5-pro->gemini-1.5-flash@vertex-ai",
            ("gemini-1.5-pro@vertex-ai", "gemini-1.5-flash@vertex-ai"),
        ),
        (
            "llama-3.1-405b-chat@together-ai->llama-3.1-70b-chat@groq",
            ("llama-3.1-405b-chat@together-ai", "llama-3.1-70b-chat@groq"),
        ),
    ],
)
def test_fallback_chains_expand_per_spec(text: str, candidates: tuple[str, ...]) -> None:
    endpoint = parse_endpoint(text)
    assert endpoint.is_fallback
    assert endpoint.candidates == candidates
    assert (endpoint.model, endpoint.provider) == tuple(candidates[0].split("@"))
    assert str(endpoint) == text


def test_fallback_chain_may_hold_a_routing_step() -> None:
    endpoint = parse_endpoint("llama@lowest-itl->gpt-4o@openai")
    assert endpoint.is_fallback and endpoint.is_routing
    assert endpoint.candidates == ("llama@lowest-itl", "gpt-4o@openai")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "No endpoint"),
        ("   ", "No endpoint"),
        ("gpt-4o", "missing '@<provider>'"),
        ("gpt-4o@", "provider is missing"),
        ("@openai", "model name is missing"),
        ("a@b@c", "more than one '@'"),
        ("gpt 4o@openai", "spaces"),
        ("gpt!@openai", "may only contain"),
        ("m@lowest-speed", "not a routing mode"),
        ("m@itl<fast", "threshold"),
        ("m@itl|colour:red", "factor"),
        ("m@quality|", "empty part"),
        ("a@p->", "empty step"),
        ("->a@p", "empty step"),
        ("a@p->->b@q", "empty step"),
        ("a->b", "missing '@<provider>'"),
        ("m@open/ai", "not a routing metric"),
    ],
)
def test_malformed_strings_explain_the_expected_format(text: str, reason: str) -> None:
    with pytest.raises(EndpointError) as caught:
        parse_endpoint(text)
    message = str(caught.value)
    assert reason in message
    assert "<model>@<provider>" in message
    assert "llama-2-70b-chat@anyscale" in message
    assert "Traceback" not in message


def test_endpoint_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="<model>@<provider>"):
        parse_endpoint("nonsense")


def test_non_text_is_refused_with_the_same_message() -> None:
    with pytest.raises(EndpointError, match="<model>@<provider>"):
        parse_endpoint(None)  # type: ignore[arg-type]


def test_error_message_shows_control_characters_escaped_and_long_input_cut() -> None:
    with pytest.raises(EndpointError) as caught:
        parse_endpoint("\x1b[31m" + "x" * 200)
    message = str(caught.value)
    assert "\x1b" not in message
    assert len(message) < 300


def test_provider_of_takes_the_part_after_the_last_at() -> None:
    assert provider_of("llama-3.1-8b-chat@deepinfra") == "deepinfra"
    assert provider_of("gpt-4o-mini") == ""
    assert model_of("llama-3.1-8b-chat@deepinfra") == "llama-3.1-8b-chat"


@given(st.text(max_size=80))
def test_parse_endpoint_raises_nothing_but_endpoint_error(text: str) -> None:
    try:
        endpoint = parse_endpoint(text)
    except EndpointError as err:
        assert "<model>@<provider>" in str(err)
    else:
        assert "@" in str(endpoint)
        assert endpoint.candidates


_piece = st.text(alphabet="abc-_.:@|<>=,/01 ", max_size=12)


@given(st.lists(_piece, max_size=6).map("->".join))
def test_parse_endpoint_on_syntax_soup_raises_nothing_but_endpoint_error(text: str) -> None:
    try:
        parse_endpoint(text)
    except EndpointError:
        pass


@given(
    st.from_regex(r"[a-z][a-z0-9.-]{0,15}", fullmatch=True),
    st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True).filter(
        lambda p: not p.startswith(("lowest-", "highest-"))
    ),
)
def test_any_plain_model_at_plain_provider_round_trips(model: str, provider: str) -> None:
    endpoint = parse_endpoint(f"{model}@{provider}")
    assert endpoint.model == model
    assert endpoint.provider == provider
    assert str(endpoint) == f"{model}@{provider}"
