"""Error responses become one typed error with the status and the server's own words."""

from __future__ import annotations

import pickle

import pytest

from tui_chat.gateways.errors import (
    AuthenticationError,
    BadRequestError,
    GatewayError,
    InsufficientCreditsError,
    NotFoundError,
    RateLimitError,
    ServerError,
    from_error_object,
    from_response,
    parse_retry_after,
)

INVALID_KEY = "Invalid API key. You can generate one at https://console.unify.ai/login"
NO_CREDITS = (
    "Whoops! It seems like this account doesn't have enough credits. "
    "To get a recharge, visit https://console.unify.ai/"
)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, InsufficientCreditsError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (422, BadRequestError),
        (429, RateLimitError),
        (500, ServerError),
        (503, ServerError),
        (418, GatewayError),
    ],
)
def test_status_picks_the_error_class(status: int, cls: type[GatewayError]) -> None:
    error = from_response(status, b'{"detail": "x"}')
    assert type(error) is cls
    assert error.status == status


def test_fastapi_detail_is_kept_exactly() -> None:
    error = from_response(401, f'{{"detail": "{INVALID_KEY}"}}'.encode())
    assert error.detail == INVALID_KEY
    assert str(error) == f"The gateway rejected the API key (HTTP 401): {INVALID_KEY}"


def test_credits_error_reads_as_a_sentence() -> None:
    error = from_response(402, '{"detail": "' + NO_CREDITS + '"}')
    assert isinstance(error, InsufficientCreditsError)
    assert str(error) == f"The account is out of credits (HTTP 402): {NO_CREDITS}"


def test_openrouter_style_error_message_is_the_detail() -> None:
    body = b'{"error": {"code": 402, "message": "Insufficient credits", "metadata": {}}}'
    assert from_response(402, body).detail == "Insufficient credits"


def test_validation_error_list_is_flattened() -> None:
    body = b'{"detail": [{"loc": ["body", "messages"], "msg": "field required", "type": "x"}]}'
    assert from_response(422, body).detail == "messages: field required"


def test_html_page_is_reduced_to_a_short_sentence() -> None:
    page = (
        "<!DOCTYPE html><html><head><title>502 Bad Gateway</title><style>body{}</style>"
        "</head><body><h1>Bad Gateway</h1><p>" + "blah " * 500 + "</p></body></html>"
    )
    error = from_response(502, page)
    assert error.detail == "the server sent a web page: 502 Bad Gateway"
    assert "<" not in str(error)


def test_html_without_title_is_stripped_of_tags_and_cut() -> None:
    error = from_response(500, "<html><body><p>Oops &amp; " + "word " * 200 + "</p></body></html>")
    assert error.detail.startswith("the server sent a web page: Oops & word")
    assert len(error.detail) <= 300


def test_plain_text_body_becomes_one_line() -> None:
    assert from_response(500, "upstream\n  connect error").detail == "upstream connect error"


def test_empty_body_falls_back_to_the_reason_phrase() -> None:
    error = from_response(503, b"")
    assert error.detail == "Service Unavailable"
    assert (
        str(error)
        == "The gateway or the provider had a server error (HTTP 503): Service Unavailable"
    )


def test_retry_after_seconds_and_dates() -> None:
    error = from_response(429, b'{"detail": "slow down"}', {"Retry-After": "7"})
    assert error.retry_after == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_error_object_inside_a_stream_uses_its_code() -> None:
    error = from_error_object({"code": 429, "message": "Rate limited upstream"})
    assert isinstance(error, RateLimitError)
    assert error.detail == "Rate limited upstream"
    assert isinstance(from_error_object({"message": "boom"}), ServerError)


def test_error_without_status_is_still_a_sentence() -> None:
    assert str(GatewayError("something odd")) == "The gateway returned an error: something odd"
    assert str(GatewayError()) == "The gateway returned an error."


def test_errors_survive_pickling() -> None:
    error = from_response(429, b'{"detail": "slow"}', {"retry-after": "2"})
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.detail, copy.status, copy.retry_after) == (
        RateLimitError,
        "slow",
        429,
        2.0,
    )


def test_a_litellm_proxys_prefixed_retry_after_is_read() -> None:
    # LiteLLM passes its provider's Retry-After on only as llm_provider-retry-after.
    error = from_response(
        429, b'{"error": {"message": "slow down"}}', {"llm_provider-retry-after": "3"}
    )
    assert error.retry_after == 3.0
