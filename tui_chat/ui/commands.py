"""The command palette's entries: models to switch to, and the app's own actions.

``ModelCommands`` searches the gateway's models (and takes a typed endpoint string);
``PALETTE_ACTIONS`` lists the app's actions shown as system commands (``UnifyTUI`` turns each
into a ``SystemCommand`` calling ``action_<name>``). Neither imports the App: the provider asks
the app only for what ``ModelSwitching`` names.
"""

from __future__ import annotations

from functools import partial
from typing import Protocol, cast

from rich.text import Text
from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider

from tui_chat.core.text import inert

# (title, help, action): the palette's system commands, in the order shown.
PALETTE_ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("Help: keys and actions", "Every key of the app and where it works", "help"),
    ("Stop reply", "Stop the reply; the partial text is kept", "stop"),
    ("Pause reply", "Hold the log still while the reply keeps arriving", "pause"),
    ("Resume reply", "Show everything that arrived while paused", "resume"),
    ("Retry", "Send the failed message again", "retry"),
    (
        "Regenerate",
        "The last reply again on the same endpoint (the earlier one is kept)",
        "regenerate",
    ),
    (
        "Regenerate on…",
        "Pick another endpoint and ask it for the last reply again",
        "regenerate_on",
    ),
    ("Edit last message", "Edit your last message; sending it starts a new branch", "edit_message"),
    (
        "Previous alternate",
        "Show the previous alternate of the selected turn",
        "previous_alternate",
    ),
    ("Next alternate", "Show the next alternate of the selected turn", "next_alternate"),
    (
        "Compare endpoints",
        "Send the prompt to 2 to 4 endpoints at once and continue with the best reply",
        "compare",
    ),
    ("Toggle model panel", "Show or hide the model/provider panel", "toggle_panel"),
    ("New conversation", "Start a new conversation", "new_conversation"),
    ("Conversations", "Open, search, rename or delete saved conversations", "conversations"),
    ("Conversation settings", "System prompt, temperature, max tokens, spend cap", "settings"),
    ("Spend", "What the saved replies cost: over time, by model, provider, gateway", "spend"),
    (
        "Billed vs reported",
        "This session's replies: the cost they reported beside what the balance fell by",
        "billing_summary",
    ),
    ("Export conversation as Markdown", "Write this conversation to a .md file", "export_markdown"),
    ("Export conversation as JSON", "Write this conversation to a .json file", "export_json"),
    (
        "Export with alternates",
        "Write every branch and alternate, each with its provenance, to a .md file",
        "export_alternates",
    ),
    ("Clear history", "Forget this conversation's messages", "clear_history"),
    ("Toggle credits", "Show or hide costs and the balance", "toggle_credits"),
    ("Toggle provider", "Show or hide the serving provider", "toggle_provider"),
    ("Refresh balance", "Ask the gateway for the balance now", "refresh_balance"),
    ("Copy last reply", "Copy the last reply to the clipboard", "copy_reply"),
    ("Copy last code block", "Copy the last fenced code block", "copy_code"),
    ("Enter API key", "Paste the API key (kept privately)", "enter_key"),
)


class ModelSwitching(Protocol):
    """What the model commands need of the app."""

    @property
    def known_models(self) -> list[str]: ...

    def switch_endpoint(self, endpoint: str) -> bool: ...

    def switch_model(self, model: str) -> None: ...

    def endpoint_problem(self, endpoint: str) -> str | None: ...


def literal_hit(matcher: Matcher, label: str) -> Text:
    """Like ``Matcher.highlight`` but ``label`` is data (a server's model name): never parsed as
    markup, control characters made visible, the matched letters shown reversed."""
    shown = inert(label)
    display = Text(shown)
    if len(shown) == len(label):  # C1 stand-ins are longer; then skip the highlight
        score, offsets = matcher.fuzzy_search.match(matcher.query, label)
        if score:
            for offset in offsets:
                if not label[offset].isspace():
                    display.stylize("reverse", offset, offset + 1)
    return display


class ModelCommands(Provider):
    """Command palette: fuzzy search over the gateway's models, or use a typed endpoint string."""

    @property
    def _switching(self) -> ModelSwitching:
        return cast(ModelSwitching, self.app)

    async def search(self, query: str) -> Hits:
        app = self._switching
        matcher = self.matcher(query)
        typed = query.strip()
        # Whatever the gateway in use takes as typed: model@provider strings everywhere, and on
        # a server without providers (OpenAI-compatible) or OpenRouter, a plain model name such
        # as llama3.1:8b. A plain name ranks below matching commands: it could be one typed in
        # part ("stop").
        if typed and app.endpoint_problem(typed) is None:
            yield Hit(
                1.0 if "@" in typed else 0.3,
                Text(inert(f"Use endpoint {typed}")),
                partial(app.switch_endpoint, typed),
                text=f"Use endpoint {typed}",
                help="Switch to this endpoint string from the next message",
            )
        for model in app.known_models:
            label = f"Switch model: {model}"
            score = matcher.match(label)
            if score > 0:
                yield Hit(
                    score,
                    literal_hit(matcher, label),
                    partial(app.switch_model, model),
                    text=label,
                    help="Keeps the routing mode or provider when it can",
                )

    async def discover(self) -> Hits:
        app = self._switching
        for model in app.known_models[:20]:
            yield DiscoveryHit(
                Text(inert(f"Switch model: {model}")), partial(app.switch_model, model), text=model
            )
