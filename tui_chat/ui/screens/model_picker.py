"""The model picker (ctrl+l): type part of a model name, pick one of the gateway's models.

Only models, where the command palette (ctrl+p) mixes them with every command: the footer's
"Switch model" opens this. The Input keeps the focus; up and down move in the list below it,
enter picks, esc closes. It reads the models the app already listed (no request per row) and
dismisses with what was picked; the app does the switching. With no model list (not loaded
yet, or the gateway lists none) what was typed is offered as an endpoint string.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.fuzzy import Matcher
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from tui_chat.core.endpoint import model_of
from tui_chat.core.text import inert
from tui_chat.ui.bindings import textual_bindings
from tui_chat.ui.screens import SCREEN_STYLES

# Enough to scroll through; rebuilding more rows on every key press only slows typing down.
MAX_SHOWN = 300
CURRENT_MARK = "● "
OTHER_MARK = "  "


@dataclass(frozen=True)
class PickedModel:
    """A model of the listing: the app keeps the routing mode (or provider) with it."""

    model: str


@dataclass(frozen=True)
class PickedEndpoint:
    """An endpoint string as typed, used as it is."""

    endpoint: str


ModelPick = PickedModel | PickedEndpoint


def matching_models(models: Sequence[str], query: str) -> list[tuple[str, set[int]]]:
    """The models matching ``query``, best first, each with the offsets of its matched letters.

    Case-insensitive. A name holding every word of the query comes first: the exact name, then
    names starting with it, then the rest in the listing's order. Below them the names holding
    the query's letters in order (the palette's fuzzy match, ``textual.fuzzy.Matcher``), best
    scored first. An empty query matches every model, in the listing's order.
    """
    words = query.lower().split()
    if not words:
        return [(model, set()) for model in models]
    exact = " ".join(words)
    joined = "".join(words)
    matcher = Matcher(joined)
    found: list[tuple[tuple[int, float, int], str, set[int]]] = []
    for index, model in enumerate(models):
        lower = model.lower()
        starts = [lower.find(word) for word in words]
        if min(starts) >= 0:
            spans = zip(starts, words, strict=True)
            offsets = {start + i for start, word in spans for i in range(len(word))}
            tier = 0 if lower == exact else 1 if starts[0] == 0 else 2
            found.append(((tier, 0.0, index), model, offsets))
            continue
        score = matcher.match(model)
        if score > 0:
            _, fuzzy_offsets = matcher.fuzzy_search.match(joined, model)
            found.append(((3, -score, index), model, set(fuzzy_offsets)))
    found.sort(key=lambda entry: entry[0])
    return [(model, offsets) for _, model, offsets in found]


def model_line(model: str, offsets: set[int], *, current: bool) -> Text:
    """One row: the mark of the current model, then the name (data: shown inert) with the
    matched letters reversed."""
    shown = inert(model)
    line = Text(CURRENT_MARK if current else OTHER_MARK, style="bold" if current else "")
    name = Text(shown, style="bold" if current else "")
    if len(shown) == len(model):  # C1 stand-ins are longer; then skip the highlight
        for offset in offsets:
            if not model[offset].isspace():
                name.stylize("reverse", offset, offset + 1)
    line.append_text(name)
    return line


class ModelPickerScreen(ModalScreen[ModelPick | None]):
    """Type to filter the gateway's models; enter picks the highlighted one, esc closes."""

    CSS_PATH = SCREEN_STYLES
    # The dialog's cancel key (remappable), and the list's keys while the Input keeps the focus
    # (no ids: not remappable, like any screen's arrow keys).
    BINDINGS: ClassVar[list[BindingType]] = [
        *textual_bindings("dialog"),
        Binding("down", "move('cursor_down')", show=False),
        Binding("up", "move('cursor_up')", show=False),
        Binding("pagedown", "move('page_down')", show=False),
        Binding("pageup", "move('page_up')", show=False),
    ]

    def __init__(
        self,
        models: Sequence[str],
        endpoint: str,
        endpoint_problem: Callable[[str], str | None],
    ) -> None:
        super().__init__()
        self.models = list(models)
        self.endpoint = endpoint
        self.current_model = model_of(endpoint)
        self.endpoint_problem = endpoint_problem
        # What each row of the list picks, by index (None: a row that only says something).
        self.choices: list[ModelPick | None] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="model-picker"):
            yield Label(
                Content.assemble(("Switch model", "bold"), f" (now {inert(self.endpoint)})"),
                id="model-picker-title",
            )
            yield Input(placeholder="Type part of a model name", id="model-picker-search")
            options = OptionList(id="model-picker-list")
            options.can_focus = False  # the Input keeps the focus, as in the command palette
            yield options
            yield Label("", id="model-picker-hint")

    def on_mount(self) -> None:
        self.show_matches("")
        self.query_one("#model-picker-search", Input).focus()

    @property
    def option_list(self) -> OptionList:
        return self.query_one("#model-picker-list", OptionList)

    @property
    def shown_models(self) -> list[str]:
        """The models the list shows now, in order."""
        return [c.model for c in self.choices if isinstance(c, PickedModel)]

    @property
    def highlighted(self) -> ModelPick | None:
        index = self.option_list.highlighted
        if index is None or index >= len(self.choices):
            return None
        return self.choices[index]

    # -- filtering ------------------------------------------------------------------------

    @on(Input.Changed, "#model-picker-search")
    def _typed(self, event: Input.Changed) -> None:
        self.show_matches(event.value)

    def show_matches(self, query: str) -> None:
        typed = query.strip()
        rows: list[tuple[Text | Content, ModelPick | None]] = []
        models = self.models
        if not typed and self.current_model in models:  # the current model first
            models = [self.current_model, *(m for m in models if m != self.current_model)]
        matches = matching_models(models, typed)
        endpoint = self._typed_endpoint(typed)
        if endpoint is not None and (not matches or "@" in typed):
            rows.append((Content(inert(f"Use endpoint {typed}")), PickedEndpoint(typed)))
        for model, offsets in matches[:MAX_SHOWN]:
            line = model_line(model, offsets, current=model == self.current_model)
            rows.append((line, PickedModel(model)))
        if not self.models:
            rows.append((Content("No model list from this gateway (yet)."), None))
            if not typed:
                rows.append((Content("Type an endpoint string, e.g. model@provider."), None))
        elif not matches:
            rows.append((Content(inert(f"No model matches “{typed}”.")), None))
        if typed and endpoint is None and not matches and (problem := self.endpoint_problem(typed)):
            rows.append((Content(inert(problem)), None))
        options = self.option_list
        options.clear_options()
        options.add_options(Option(row, disabled=pick is None) for row, pick in rows)
        self.choices = [pick for _, pick in rows]
        first = next((i for i, pick in enumerate(self.choices) if pick is not None), None)
        options.highlighted = first
        if first is not None:
            options.scroll_to_highlight()
        self._show_count(len(matches))

    def _typed_endpoint(self, typed: str) -> str | None:
        if not typed or self.endpoint_problem(typed) is not None:
            return None
        return typed

    def _show_count(self, matching: int) -> None:
        total = len(self.models)
        # Short enough for one line at 50 columns: "300 of 339 models · enter picks · esc closes"
        count = f"{min(matching, MAX_SHOWN)} of {total} models" if total else "No models listed"
        hint = f"{count} · enter picks · esc closes"
        self.query_one("#model-picker-hint", Label).update(hint)

    # -- choosing -------------------------------------------------------------------------

    def action_move(self, action: str) -> None:
        getattr(self.option_list, f"action_{action}")()

    @on(Input.Submitted, "#model-picker-search")
    def _submitted(self) -> None:
        pick = self.highlighted
        if pick is not None:
            self.dismiss(pick)

    @on(OptionList.OptionSelected, "#model-picker-list")
    def _clicked(self, event: OptionList.OptionSelected) -> None:
        if event.option_index < len(self.choices) and (pick := self.choices[event.option_index]):
            self.dismiss(pick)

    def action_cancel(self) -> None:
        self.dismiss(None)
