"""The model picker (ctrl+l): type part of a model name, move with up/down, enter switches.

Found at a real terminal: ctrl+l opened the whole command palette, and typing in the panel's
model dropdown did nothing over the demo's 339 models.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Input, Label, OptionList

from tests.app.conftest import APP_SIZE, profiles_app, wait_until
from tests.app.test_terminal_keys import feed
from tui_chat.config import GatewayProfile
from tui_chat.core.endpoint import model_of
from tui_chat.ui.app import UnifyTUI
from tui_chat.ui.screens.model_picker import MAX_SHOWN, ModelPickerScreen, matching_models

START = "llama-3.1-8b-chat@groq"


def picker(app: UnifyTUI) -> ModelPickerScreen:
    screen = app.screen
    assert isinstance(screen, ModelPickerScreen)
    return screen


def rows(app: UnifyTUI) -> list[str]:
    options = picker(app).query_one(OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def open_picker(pilot: Any, key: str = "ctrl+l") -> ModelPickerScreen:
    app = pilot.app
    await wait_until(pilot, lambda: len(app.known_models) > 300, what="the model list")
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(app.screen, ModelPickerScreen), what="the picker")
    await pilot.pause()
    return picker(app)


async def type_in(pilot: Any, text: str) -> None:
    await pilot.press(*text)
    await pilot.pause()


async def test_ctrl_l_opens_the_picker_with_every_model_and_the_current_first(
    make_app: Any, sim: Any
) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await open_picker(pilot)
        assert isinstance(app.focused, Input)  # typing goes into the search at once
        assert app.focused.placeholder == "Type part of a model name"
        # 339 models: the first few hundred are listed, and the hint says so
        assert len(screen.shown_models) == MAX_SHOWN < len(app.known_models)
        hint = str(screen.query_one("#model-picker-hint", Label).render())
        assert f"{MAX_SHOWN} of {len(app.known_models)} models" in hint
        assert screen.shown_models[0] == "llama-3.1-8b-chat"  # the current model, marked
        assert rows(app)[0].startswith("● llama-3.1-8b-chat")
        assert not any(row.startswith("●") for row in rows(app)[1:])


async def test_the_real_ctrl_l_byte_opens_the_picker_from_the_prompt(
    make_app: Any, sim: Any
) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: len(app.known_models) > 300, what="the model list")
        app.prompt.focus()
        await pilot.pause()
        feed(app, b"\x0c")  # what a terminal sends for ctrl+l
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPickerScreen), what="picker")
        assert app.prompt.text == ""


async def test_typing_filters_and_down_enter_switches_then_the_prompt_types(
    make_app: Any, sim: Any
) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        app.selector.focus()  # wherever the focus was, it ends on the prompt
        screen = await open_picker(pilot)
        await type_in(pilot, "sonnet")
        shown = screen.shown_models
        assert shown and all("sonnet" in model for model in shown)
        assert set(shown) == {m for m in app.known_models if "sonnet" in m}
        assert isinstance(app.focused, Input)  # down moves in the list, the Input keeps focus
        await pilot.press("down")
        assert isinstance(app.focused, Input)
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, ModelPickerScreen), what="close")
        assert model_of(app.endpoint) == shown[1] == "claude-3.5-sonnet"  # the second one
        await wait_until(pilot, lambda: app.focused is app.prompt, what="focus on the prompt")
        await type_in(pilot, "hi")
        assert app.prompt.text == "hi"


async def test_esc_closes_without_a_change(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await open_picker(pilot)
        await type_in(pilot, "sonnet")
        await pilot.press("down", "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ModelPickerScreen), what="close")
        assert app.endpoint == START
        await wait_until(pilot, lambda: app.focused is app.prompt, what="focus on the prompt")


async def test_ctrl_l_again_leaves_one_picker_open(make_app: Any, sim: Any) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await open_picker(pilot)
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert sum(isinstance(s, ModelPickerScreen) for s in app.screen_stack) == 1


async def test_with_no_listing_a_typed_endpoint_is_offered_and_used(
    make_app: Any, sim: Any
) -> None:
    app = make_app(account=None)  # nothing lists the models
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPickerScreen), what="picker")
        await pilot.pause()
        assert any("No model list" in row for row in rows(app))
        await type_in(pilot, "not an endpoint")
        assert not any(row.startswith("Use endpoint") for row in rows(app))
        await pilot.press("enter")  # nothing to pick: the picker stays
        assert isinstance(app.screen, ModelPickerScreen)
        picker(app).query_one(Input).value = ""
        await type_in(pilot, "gpt-4o@openai")
        assert rows(app)[0] == "Use endpoint gpt-4o@openai"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.endpoint == "gpt-4o@openai", what="the switch")
        assert not isinstance(app.screen, ModelPickerScreen)
        await wait_until(pilot, lambda: app.focused is app.prompt, what="focus on the prompt")


async def test_on_a_server_without_providers_the_model_is_the_endpoint(sim: Any) -> None:
    profiles = {
        "local": GatewayProfile(
            "local", "openai-compatible", base_url=sim.openai_base_url, key_env=""
        )
    }
    app = profiles_app(profiles, first="local", model="llama-3.1-8b-chat")
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await open_picker(pilot)
        await type_in(pilot, "claude-3.5-sonnet")
        assert screen.shown_models[0] == "claude-3.5-sonnet"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.endpoint == "claude-3.5-sonnet", what="the switch")


@pytest.mark.parametrize("size", [(80, 24), (50, 20)])
async def test_the_picker_fits_small_terminals(make_app: Any, sim: Any, size: Any) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        screen = await open_picker(pilot)
        await type_in(pilot, "sonnet")
        for widget_id in ("#model-picker-title", "#model-picker-search", "#model-picker-hint"):
            region = screen.query_one(widget_id).region
            assert region.height > 0 and region.right <= size[0] and region.bottom <= size[1]
        options = screen.query_one(OptionList)
        assert options.region.height >= 3  # the three sonnets are all in sight
        assert screen.query_one("#model-picker-hint").region.height == 1


def test_matching_ranks_exact_then_prefix_then_contains_then_fuzzy() -> None:
    models = ["gpt-4o-mini", "my-gpt-4o", "gpt-4o", "g-p-t-4-o", "claude"]
    assert [m for m, _ in matching_models(models, "GPT-4o")] == [
        "gpt-4o",
        "gpt-4o-mini",
        "my-gpt-4o",
        "g-p-t-4-o",
    ]
    assert [m for m, _ in matching_models(models, "4o mini")] == ["gpt-4o-mini"]
    assert matching_models(models, "") == [(m, set()) for m in models]
