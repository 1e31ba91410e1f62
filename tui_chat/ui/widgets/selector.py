"""The gateway/model/provider selector panel.

It shows lists the app hands it and reports what the user picked; it never calls the network.
Lists arrive from background workers, so each dropdown has a loading state, and when the gateway
cannot list, the free-text endpoint field still works. The gateway dropdown lists the configured
profiles; what the current gateway kind cannot do is greyed out with a one-line reason.

The panel's own widgets (three dropdowns, an input, two checkboxes) are mounted just after the
first frame: styling and drawing them took ~40-80 ms of start-up, and the first frame shows the
panel's frame in its place, so nothing moves when they arrive. What the app tells the panel
before then is applied, in order, once they are there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial, wraps
from typing import Concatenate, ParamSpec

from rich.text import Text
from textual import events, on
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, OptionList, Select, Static

from tui_chat.core.endpoint import ROUTING_MODES, EndpointError, endpoint_problem, parse_endpoint
from tui_chat.core.text import inert
from tui_chat.gateways.base import UNIFY_CAPABILITIES, Capabilities

# What the panel says about a missing feature, in this order.
_NOTED_FEATURES = ("has_balance", "reports_cost")


_P = ParamSpec("_P")


def _option(text: str) -> Text:
    # Option labels are data (a model name may contain "["), never markup: a Rich Text built
    # from the string is plain text. (Not Content: Select's type-to-search reads only str and
    # Text prompts, so with Content typing "gpt" in the model list found nothing.)
    return Text(inert(text))


def _once_built(
    method: Callable[Concatenate[SelectorPanel, _P], None],
) -> Callable[Concatenate[SelectorPanel, _P], None]:
    """Run ``method`` now if the panel's widgets are mounted, else as soon as they are."""

    @wraps(method)
    def call(panel: SelectorPanel, /, *args: _P.args, **kwargs: _P.kwargs) -> None:
        if panel.built:
            method(panel, *args, **kwargs)
        else:
            panel._deferred.append(partial(method, panel, *args, **kwargs))

    return call


class PanelSelect(Select[str]):
    """A Select that lets the app quit while it is being mounted.

    The panel's widgets are mounted just after the first frame. Quitting then (ctrl+q, a
    signal) can remove a Select's parts before its Mount handler runs, which then fails to find
    them (NoMatches): a quit at start-up became a crash. Once the app is exiting (it has a
    return code) Select's set-up is skipped, for a widget about to go. (Textual calls each
    class's Mount handler in turn, this one first.)
    """

    def _on_mount(self, event: events.Mount) -> None:
        if self.app.return_code is not None:
            event.prevent_default()


class SelectorPanel(VerticalScroll):
    """Model dropdown, provider/routing dropdown, endpoint details, free-text endpoint, toggles."""

    @dataclass
    class EndpointChosen(Message):
        """The user picked a new endpoint string (already validated)."""

        endpoint: str

    @dataclass
    class ModelHighlighted(Message):
        """The user picked a model: the app should load its providers."""

        model: str

    @dataclass
    class ProviderFactsWanted(Message):
        """The user is at the provider list of ``model``: its prices and context windows are
        worth loading now (asked once per listing; loading them all up front cost a request
        per provider on every model pick)."""

        model: str
        providers: list[str]

    @dataclass
    class GatewayChosen(Message):
        """The user picked another gateway profile (by name)."""

        name: str

    @dataclass
    class ToggleChanged(Message):
        name: str  # "show_credits" | "show_provider"
        value: bool

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._model = ""
        self._provider = ""
        self._setting = False  # True while the app sets values, so no event loops back
        self._capabilities = UNIFY_CAPABILITIES
        self._kind = "unify"
        self.built = False  # the panel's widgets are mounted (after the first frame)
        self._building = False
        self._deferred: list[Callable[[], None]] = []
        # The providers listed for the model shown, what is known of each (price, context,
        # speed), and whether their facts were asked for yet.
        self._providers: list[str] = []
        self._facts: dict[str, str] = {}
        self._facts_asked = False

    def on_mount(self) -> None:
        # The app builds the panel when its first frame is up (UnifyTUI.on_ready); this is for
        # any other host.
        self.call_after_refresh(self.build)

    async def build(self) -> None:
        """Mount the panel's widgets and apply what it was told meanwhile (once)."""
        if self._building:
            return
        self._building = True
        await self.mount_all(self._widgets())
        if self.app.return_code is not None:
            # Quitting meanwhile: the widgets may be half removed already, and what was told
            # (options, prompts) would fail to find their parts. Left unbuilt, it all waits.
            return
        self.built = True
        self.watch(self.query_one("#provider-select", Select), "expanded", self._provider_list_open)
        deferred, self._deferred = self._deferred, []
        for call in deferred:
            call()

    def _widgets(self) -> Iterable[Widget]:
        yield Label("Gateway", classes="panel-heading")
        gateways = PanelSelect([], prompt="Gateway", id="gateway-select")
        gateways.display = False  # shown once there are profiles to choose from
        yield gateways
        yield Static("", id="gateway-note", classes="panel-note")
        notes = Static("", id="capability-notes", classes="panel-note")
        notes.display = False
        yield notes
        yield Label("Model", classes="panel-heading")
        yield PanelSelect([], prompt="Loading models…", id="model-select", type_to_search=True)
        yield Label("Provider or routing mode", classes="panel-heading", id="provider-heading")
        yield PanelSelect([], prompt="Choose a model first", id="provider-select")
        provider_note = Static("", id="provider-note", classes="panel-note")
        provider_note.display = False
        yield provider_note
        yield Static("", id="endpoint-details", classes="panel-note")
        yield Label("Endpoint string", classes="panel-heading")
        yield Input(
            placeholder="model@provider, @lowest-ttft, a->b@p",
            id="endpoint-input",
        )
        yield Static("", id="endpoint-feedback", classes="panel-note")
        yield Checkbox("Show credits", value=True, id="toggle-credits")
        yield Checkbox("Show provider", value=True, id="toggle-provider")

    # -- what the app tells the panel -------------------------------------------------------

    @_once_built
    def set_gateway_note(self, text: str) -> None:
        self.query_one("#gateway-note", Static).update(Content(inert(text)))

    @_once_built
    def set_profiles(self, profiles: list[tuple[str, str]], current: str | None) -> None:
        """The gateway profiles to offer, as ``(label, name)``; hidden when there is only one."""
        select = self.query_one("#gateway-select", Select)
        with self.prevent(Select.Changed):
            select.set_options([(_option(label), name) for label, name in profiles])
        select.display = len(profiles) > 1
        self.set_profile(current)

    @_once_built
    def set_profile(self, name: str | None) -> None:
        """Show ``name`` as the gateway in use (quietly: no ``GatewayChosen``)."""
        if name:
            self._select_quietly("#gateway-select", name)

    @_once_built
    def set_capabilities(self, capabilities: Capabilities, kind: str) -> None:
        """Grey out what this gateway kind cannot do, with a one-line reason for each."""
        if (capabilities, kind) == (self._capabilities, self._kind):
            return
        self._capabilities, self._kind = capabilities, kind
        notes = [
            reason
            for feature in _NOTED_FEATURES
            if (reason := capabilities.reason(feature)) is not None
        ]
        capability_notes = self.query_one("#capability-notes", Static)
        capability_notes.update(Content(inert("\n".join(notes))))
        capability_notes.display = bool(notes)
        provider = self.query_one("#provider-select", Select)
        provider.disabled = not capabilities.provider_choice
        self.query_one("#provider-heading", Label).set_class(
            not capabilities.provider_choice, "-disabled"
        )
        provider_note = self.query_one("#provider-note", Static)
        provider_note.update(Content(inert(capabilities.reason("provider_choice") or "")))
        provider_note.display = not capabilities.provider_choice
        field = self.query_one("#endpoint-input", Input)
        field.placeholder = (
            "model name, e.g. gpt-4o-mini"
            if not capabilities.provider_choice
            else "model@provider, @lowest-ttft, a->b@p"
        )
        with self.prevent(Select.Changed):
            provider.set_options([])
            self._forget_providers()
            provider.prompt = (
                "Loading providers…" if capabilities.provider_choice else "No provider choice"
            )
        self.set_details("", "")

    @_once_built
    def set_current(self, endpoint: str) -> None:
        """Reflect the endpoint in use (after a switch from anywhere: panel, palette, CLI)."""
        if endpoint_problem(self._kind, endpoint) is not None:
            return
        previous = self._model
        try:
            parsed = parse_endpoint(endpoint)
        except EndpointError:
            # a plain model name (OpenAI-compatible) or a native OpenRouter id
            self._model, self._provider = endpoint.strip(), ""
        else:
            self._model, self._provider = parsed.model, parsed.provider
            if self._kind == "openrouter" and not parsed.is_fallback:
                # keep OpenRouter's "author/" (the seed syntax drops it): it is in the list
                self._model = endpoint.strip().rsplit("@", 1)[0]
        field = self.query_one("#endpoint-input", Input)
        if field.value != endpoint:
            with self.prevent(Input.Changed):
                field.value = endpoint
        self._set_feedback("", ok=True)
        if self._model != previous:
            self._show_provider_note("")  # it was about the other model's providers
            self._forget_providers()
        self._select_quietly("#model-select", self._model)
        self._select_quietly("#provider-select", self._provider)

    @_once_built
    def set_models(self, models: list[str]) -> None:
        select = self.query_one("#model-select", Select)
        with self.prevent(Select.Changed):
            select.set_options([(_option(m), m) for m in models])
            select.prompt = "Choose a model (type to search)" if models else "No models listed"
        self._select_quietly("#model-select", self._model)

    @_once_built
    def set_models_failed(self, reason: str) -> None:
        select = self.query_one("#model-select", Select)
        select.prompt = "Model list unavailable"
        self._set_feedback(f"{reason} You can still type an endpoint string below.", ok=False)

    @property
    def model(self) -> str:
        """The model the panel shows (picked, or of the endpoint in use)."""
        return self._model

    @_once_built
    def set_providers(self, model: str, providers: list[str]) -> None:
        if model != self._model or not self._capabilities.provider_choice:
            return
        self._show_provider_note("")
        if providers != self._providers:
            self._facts = {}
        self._providers = list(providers)
        self._facts_asked = False
        self._set_provider_options()
        if self._at_provider_list():
            self._ask_for_facts()

    @_once_built
    def set_provider_facts(self, model: str, facts: dict[str, str]) -> None:
        """Show ``facts`` (a short line per provider) under the providers of ``model`` in the
        open list; the closed dropdown keeps showing the provider's name alone."""
        if model != self._model or not self._providers:
            return
        self._facts.update({p: text for p, text in facts.items() if p in self._providers})
        self._label_facts()

    def _forget_providers(self) -> None:
        """The listed providers were another model's (or another gateway's)."""
        self._providers, self._facts, self._facts_asked = [], {}, False

    def _provider_options(self) -> list[tuple[Text, str]]:
        options = [(_option(p), p) for p in self._providers]
        options += [(_option(f"⇅ {mode} (routing)"), mode) for mode in ROUTING_MODES]
        return options

    def _set_provider_options(self) -> None:
        select = self.query_one("#provider-select", Select)
        with self.prevent(Select.Changed):
            select.set_options(self._provider_options())
            select.prompt = "Choose a provider"
        self._select_quietly("#provider-select", self._provider)
        self._label_facts()

    def _label_facts(self) -> None:
        """Relabel the list's rows in place (rebuilding the options would move the highlight
        under the user's cursor): the provider, and its facts dimmed on a line of their own
        (on one line they wrapped mid-figure in a 30-42 column panel)."""
        select = self.query_one("#provider-select", Select)
        overlay = select.query_one("SelectOverlay", OptionList)
        first = overlay.option_count - len(self._provider_options())  # the blank row, if any
        if first < 0:
            return
        for index, provider in enumerate(self._providers):
            facts = self._facts.get(provider)
            if facts:
                label = _option(provider)
                label.append("\n  " + inert(facts), style="dim")
                overlay.replace_option_prompt_at_index(first + index, label)

    def _at_provider_list(self) -> bool:
        focused = self.screen.focused if self.is_attached else None
        select = self.query_one("#provider-select", Select)
        return focused is not None and (focused is select or select in focused.ancestors)

    def _ask_for_facts(self) -> None:
        if self._facts_asked or not self._providers or not self._model:
            return
        self._facts_asked = True
        self.post_message(self.ProviderFactsWanted(self._model, list(self._providers)))

    def _provider_list_open(self, expanded: bool) -> None:
        if expanded:
            self._ask_for_facts()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if event.widget.id == "provider-select":
            self._ask_for_facts()

    @_once_built
    def set_providers_note(self, model: str, text: str) -> None:
        """Why the providers of ``model`` are missing (a failed listing); "" hides it."""
        if model == self._model and self._capabilities.provider_choice:
            self._show_provider_note(text)

    def _show_provider_note(self, text: str) -> None:
        note = self.query_one("#provider-note", Static)
        note.update(Content(inert(text)))
        note.display = bool(text)

    @_once_built
    def set_details(self, endpoint: str, text: str) -> None:
        self.query_one("#endpoint-details", Static).update(Content(inert(text)))

    @_once_built
    def set_toggles(self, *, show_credits: bool, show_provider: bool) -> None:
        for widget_id, value in (
            ("#toggle-credits", show_credits),
            ("#toggle-provider", show_provider),
        ):
            box = self.query_one(widget_id, Checkbox)
            if box.value != value:
                with self.prevent(Checkbox.Changed):
                    box.value = value

    # -- what the user does -----------------------------------------------------------------

    def _select_quietly(self, selector: str, value: str) -> None:
        select = self.query_one(selector, Select)
        with self.prevent(Select.Changed):
            if value and any(v == value for _, v in select._options):
                select.value = value
            elif not select.is_blank():
                select.clear()

    def _set_feedback(self, text: str, *, ok: bool) -> None:
        feedback = self.query_one("#endpoint-feedback", Static)
        feedback.update(Content(inert(text)))
        feedback.set_class(not ok, "-invalid")

    @on(Select.Changed, "#model-select")
    def _model_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.value is Select.NULL:
            return
        model = str(event.value)
        if model != self._model:
            self._forget_providers()
        self._model = model
        if not self._capabilities.provider_choice:
            self.post_message(self.EndpointChosen(model))  # the server runs what you name
            return
        self.post_message(self.ModelHighlighted(model))
        # Keep a routing mode when only the model changes (as Unify's own chat client does);
        # a concrete provider may not serve the new model, so wait for the provider list.
        if self._provider in ROUTING_MODES or (self._provider and "|" in self._provider):
            self.post_message(self.EndpointChosen(f"{model}@{self._provider}"))
        else:  # the endpoint is not whole yet: its provider is the next thing to pick
            self.query_one("#provider-select", Select).focus()

    @on(Select.Changed, "#provider-select")
    def _provider_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.value is Select.NULL or not self._model:
            return
        self._provider = str(event.value)
        self.post_message(self.EndpointChosen(f"{self._model}@{self._provider}"))

    @on(Input.Changed, "#endpoint-input")
    def _endpoint_typed(self, event: Input.Changed) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            self._set_feedback("", ok=True)
            return
        problem = endpoint_problem(self._kind, text)
        if problem is not None:
            self._set_feedback(problem, ok=False)
        else:
            self._set_feedback("Enter to use this endpoint", ok=True)

    @on(Input.Submitted, "#endpoint-input")
    def _endpoint_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        problem = endpoint_problem(self._kind, text)
        if problem is not None:
            self._set_feedback(problem, ok=False)
            return
        self.post_message(self.EndpointChosen(text))

    @on(Select.Changed, "#gateway-select")
    def _gateway_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.value is not Select.NULL:
            self.post_message(self.GatewayChosen(str(event.value)))

    @on(Checkbox.Changed)
    def _toggle(self, event: Checkbox.Changed) -> None:
        event.stop()
        name = {"toggle-credits": "show_credits", "toggle-provider": "show_provider"}.get(
            event.checkbox.id or ""
        )
        if name:
            self.post_message(self.ToggleChanged(name, event.value))
