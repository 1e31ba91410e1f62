"""Property-based tests for the endpoint-string parser: any text, no unhandled exception, ever."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_chat.core.endpoint import (
    ROUTING_MODES,
    Endpoint,
    EndpointError,
    model_of,
    parse_endpoint,
    provider_of,
)

FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Pieces a user (or a paste) might put in an endpoint string, so examples hit the grammar often.
PIECES = st.sampled_from(
    [
        "@",
        "->",
        "/",
        ":",
        "|",
        "<",
        ">",
        "=",
        ",",
        ".",
        "-",
        "_",
        "router",
        "gpt-4o",
        "llama-3.1-8b-chat",
        "openai",
        "groq",
        "providers:",
        "skip_providers:",
        "endpoints:",
        "q:1",
        "i:0.5",
        "lowest-ttft",
        "highest-tks-per-sec",
        "0.5input-cost",
        " ",
        "\t",
        "\x1b[31m",
        "\u202e",
        "宽",
        "🙂",
        "\x00",
        "\n",
        *ROUTING_MODES,
    ]
)
ENDPOINT_LIKE = st.lists(PIECES | st.text(max_size=6), max_size=12).map("".join)
NAME = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True)


def check(text: object) -> Endpoint | None:
    try:
        endpoint = parse_endpoint(text)  # type: ignore[arg-type]
    except EndpointError as error:
        message = str(error)
        assert message and "\n" not in message  # one plain sentence naming the format
        return None
    assert endpoint.raw and "@" in endpoint.raw
    assert endpoint.candidates and all("@" in c for c in endpoint.candidates)
    return endpoint


@FAST
@given(st.text())
def test_any_text_parses_or_raises_endpoint_error(text: str) -> None:
    check(text)


@FAST
@given(ENDPOINT_LIKE)
def test_endpoint_like_text_parses_or_raises_endpoint_error(text: str) -> None:
    check(text)


@FAST
@given(st.one_of(st.none(), st.integers(), st.binary(), st.lists(st.text(), max_size=3)))
def test_non_text_is_refused_with_endpoint_error(value: object) -> None:
    assert check(value) is None


@FAST
@given(ENDPOINT_LIKE)
def test_parsing_is_idempotent(text: str) -> None:
    """What is sent (str(endpoint)) parses again to the same endpoint."""
    endpoint = check(text)
    if endpoint is not None:
        assert parse_endpoint(str(endpoint)) == endpoint


@FAST
@given(NAME, st.one_of(NAME, st.sampled_from(ROUTING_MODES)))
def test_model_at_provider_round_trips(model: str, provider: str) -> None:
    endpoint = parse_endpoint(f"{model}@{provider}")
    assert endpoint.model == model
    assert endpoint.provider == provider
    assert model_of(str(endpoint)) == model and provider_of(str(endpoint)) == provider


@FAST
@given(st.text())
def test_served_endpoint_helpers_never_fail(text: str) -> None:
    assert isinstance(provider_of(text), str)
    assert isinstance(model_of(text), str)
