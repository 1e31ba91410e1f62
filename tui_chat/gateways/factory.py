"""One place that knows which classes serve which gateway kind (no Textual, no config files).

``build_gateway(kind, settings)`` returns the streaming gateway and the blocking account client
of that kind; ``capabilities_for(kind)`` says what the kind can do without building anything.
Kinds: ``unify`` (default), ``demo`` (the embedded gateway speaks the Unify API),
``openrouter`` and ``openai-compatible``.
"""

from __future__ import annotations

from tui_chat.gateways.base import (
    OPENAI_COMPATIBLE_CAPABILITIES,
    OPENROUTER_CAPABILITIES,
    UNIFY_CAPABILITIES,
    Account,
    Capabilities,
    Gateway,
)
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.errors import ConfigurationError
from tui_chat.gateways.openai_compat import (
    OpenAICompatibleAccount,
    OpenAICompatibleGateway,
    PriceTable,
)
from tui_chat.gateways.openrouter import OpenRouterAccount, OpenRouterGateway
from tui_chat.gateways.unify import UnifyAccount, UnifyGateway

KINDS: tuple[str, ...] = ("unify", "openrouter", "openai-compatible", "demo")

_CAPABILITIES: dict[str, Capabilities] = {
    "unify": UNIFY_CAPABILITIES,
    "demo": UNIFY_CAPABILITIES,
    "openrouter": OPENROUTER_CAPABILITIES,
    "openai-compatible": OPENAI_COMPATIBLE_CAPABILITIES,
}


def _check_kind(kind: str) -> None:
    if kind not in _CAPABILITIES:
        raise ConfigurationError(
            f"unknown gateway kind {kind!r}; expected one of {', '.join(KINDS)}"
        )


def capabilities_for(kind: str) -> Capabilities:
    """What a gateway kind can do; raises ``ConfigurationError`` for an unknown kind."""
    _check_kind(kind)
    return _CAPABILITIES[kind]


def build_gateway(
    kind: str, settings: GatewaySettings, *, prices: PriceTable | None = None
) -> tuple[Gateway, Account]:
    """The gateway and the account client for ``kind`` at ``settings``.

    ``prices`` ($/M tokens per model name) is used by ``openai-compatible`` only, to estimate
    costs. Raises ``ConfigurationError`` for an unknown kind.
    """
    _check_kind(kind)
    if kind == "openrouter":
        return OpenRouterGateway(settings), OpenRouterAccount(settings)
    if kind == "openai-compatible":
        return (
            OpenAICompatibleGateway(settings, prices=prices),
            OpenAICompatibleAccount(settings, prices=prices),
        )
    return UnifyGateway(settings), UnifyAccount(settings)
