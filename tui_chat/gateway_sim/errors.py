"""Error texts of the Unify API, word for word as its backend sends them, and the exception
that carries them."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

NOT_AUTHENTICATED = "Not authenticated"
INVALID_CREDENTIALS = "Invalid authentication credentials"
INVALID_API_KEY = "Invalid API key. You can generate one at https://console.unify.ai/login"
NO_CREDITS = (
    "Whoops! It seems like this account doesn't have enough credits. "
    "To get a recharge, visit https://console.unify.ai/"
)
ACCOUNT_SUSPENDED = (
    "Your account has been suspended. Please reach out to hello@unify.ai if you have any questions."
)
INVALID_MODEL = (
    "Invalid model. The expected format is <model-id>@<provider>. See "
    "https://unify.ai/docs/hub/reference/endpoints.html#post-chat-completions "
    "for more information."
)
# sic: no space after "routing." (the backend's text)
INVALID_PROVIDER = (
    "Invalid provider. It must be a valid provider name or a valid metric configuration for "
    "dynamic routing.See https://unify.ai/docs/hub/concepts/endpoints.html and "
    "https://unify.ai/docs/hub/concepts/runtime_routing.html for more information."
)
NO_PROVIDERS_WITHIN_THRESHOLDS = "No providers found within the specified thresholds."
MESSAGES_NOT_IN_INPUT = "Invalid input. Messages not in input."
AT_MOST_ONE_OF_MODEL_PROVIDER = "You can only specify at most one of (model, provider)"
NOT_FOUND = "Not Found"
METHOD_NOT_ALLOWED = "Method Not Allowed"

#: Statuses (besides >= 500) after which a fallback chain tries its next candidate.
RETRYABLE_STATUSES = frozenset({400, 403, 404, 429})


def internal_error(digest: str) -> str:
    """The generic 500 detail; ``digest`` is 8 hex digits."""
    return f"Internal Server Error. Digest: {digest}"


def reason_phrase(status: int) -> str:
    """The standard reason phrase of an HTTP status ("Not Found"), or "Error" for an odd one."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def is_retryable(status: int) -> bool:
    """Whether a fallback chain moves on to its next candidate after ``status``."""
    return status in RETRYABLE_STATUSES or status >= 500


def missing_field(field: str) -> list[dict[str, Any]]:
    """The pydantic 422 ``detail`` for a missing body field."""
    return [{"loc": ["body", field], "msg": "field required", "type": "value_error.missing"}]


class SimHTTPError(Exception):
    """An HTTP error response the sim sends: a status and a FastAPI-style body.

    ``detail`` goes out as ``{"detail": detail}`` unless ``raw_body`` is given (a non-JSON or
    HTML page), which is sent as is with ``content_type``.
    """

    def __init__(
        self,
        status: int,
        detail: Any,
        *,
        headers: dict[str, str] | None = None,
        raw_body: bytes | None = None,
        content_type: str = "application/json",
    ) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})
        self.raw_body = raw_body
        self.content_type = content_type
