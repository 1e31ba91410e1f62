"""Beside each provider in the provider list: its price, context window and, where this
conversation has replies it served, their measured speed.

Found at a real terminal: the list named providers only, so choosing one meant guessing. The
facts are loaded when the user goes to the list (a request per provider on Unify), never on
every model pick.
"""

from __future__ import annotations

import threading
from typing import Any

from textual.widgets import OptionList, Select

from tests.app.conftest import APP_SIZE, send, wait_for_reply, wait_until
from tests.app.test_details_retry import FlakyDetails
from tui_chat.core.provider_facts import facts_line
from tui_chat.ui.app import UnifyTUI

START = "llama-3.1-8b-chat@groq"
MODEL = "llama-3.1-8b-chat"


def provider_select(app: UnifyTUI) -> Select[str]:
    return app.selector.query_one("#provider-select", Select)


def overlay_rows(app: UnifyTUI) -> list[str]:
    overlay = provider_select(app).query_one("SelectOverlay", OptionList)
    return [str(overlay.get_option_at_index(i).prompt) for i in range(overlay.option_count)]


def listed(app: UnifyTUI) -> list[str]:
    return [str(value) for _label, value in provider_select(app)._options if value != Select.NULL]


async def providers_listed(pilot: Any) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: "groq" in listed(app), what="the provider list")


async def test_the_open_provider_list_shows_each_providers_price_and_context(
    make_app: Any, sim: Any
) -> None:
    account = FlakyDetails(sim, failures={})
    app = make_app(account=account)
    async with app.run_test(size=APP_SIZE) as pilot:
        await providers_listed(pilot)
        providers = list(app.selector._providers)
        assert len(providers) > 1
        # Only the endpoint in use was asked about so far: no request per provider at start.
        assert set(account.calls) == {START}
        select = provider_select(app)
        select.focus()
        await pilot.press("enter")  # opens the list
        await wait_until(pilot, lambda: select.expanded, what="the open list")
        await wait_until(
            pilot,
            lambda: all("$" in row for row in overlay_rows(app)[1 : len(providers) + 1]),
            what="facts beside every provider",
        )
        for provider in providers:
            details = account.inner.endpoint_details(f"{MODEL}@{provider}")
            line = facts_line(details.input_cost, details.output_cost, details.context_window)
            assert line  # the sim lists a price and a context window for each
            assert f"{provider}\n  {line}" in overlay_rows(app)
        # each provider was asked once, however many times the list opens
        assert all(account.calls[f"{MODEL}@{p}"] == 1 for p in providers)
        await pilot.press("escape")
        await pilot.pause()
        select.focus()
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert all(account.calls[f"{MODEL}@{p}"] == 1 for p in providers)


async def test_facts_arriving_while_the_list_is_open_leave_the_highlight_where_it_was(
    make_app: Any, sim: Any
) -> None:
    gate = threading.Event()
    account = FlakyDetails(sim, failures={}, gate=gate)
    app = make_app(account=account)
    async with app.run_test(size=APP_SIZE) as pilot:
        await providers_listed(pilot)
        gate.set()  # (the start endpoint's own details)
        await wait_until(pilot, lambda: START in app.account_watch.details, what="details")
        gate.clear()
        select = provider_select(app)
        select.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: select.expanded, what="the open list")
        overlay = select.query_one("SelectOverlay", OptionList)
        await pilot.press("down", "down")
        highlighted = overlay.highlighted
        gate.set()  # the facts arrive now, with the list open
        await wait_until(pilot, lambda: "$" in "".join(overlay_rows(app)), what="the facts")
        assert overlay.highlighted == highlighted
        assert select.expanded
        await pilot.press("enter")  # picks what was highlighted, as if nothing had happened
        await pilot.pause()
        assert not select.expanded
        # the closed dropdown names the provider alone; the list keeps the facts
        assert "$" not in str(select.query_one("SelectCurrent").render())
        assert "$" in "".join(overlay_rows(app))


async def test_a_provider_that_served_replies_here_shows_their_measured_speed(
    make_app: Any, sim: Any
) -> None:
    app = make_app()
    async with app.run_test(size=APP_SIZE) as pilot:
        await providers_listed(pilot)
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        reply = app.conversation.messages[-1]
        assert reply.served_endpoint == START
        rate = reply.tokens_per_second
        assert rate is not None
        select = provider_select(app)
        select.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: "t/s" in "".join(overlay_rows(app)), what="the speed")
        groq = next(row for row in overlay_rows(app) if row.startswith("groq\n"))
        assert groq.endswith(f" · {rate:.0f} t/s")
        others = [row for row in overlay_rows(app) if "$" in row and not row.startswith("groq")]
        assert others and not any("t/s" in row for row in others)  # never served here


async def test_another_models_list_gets_its_own_facts(make_app: Any, sim: Any) -> None:
    account = FlakyDetails(sim, failures={})
    app = make_app(account=account)
    async with app.run_test(size=APP_SIZE) as pilot:
        await providers_listed(pilot)
        select = provider_select(app)
        select.focus()
        await wait_until(pilot, lambda: len(account.calls) > 1, what="the facts")
        app.prompt.focus()
        app.switch_endpoint("gpt-4o-mini@openai")
        await wait_until(
            pilot,
            lambda: app.selector.model == "gpt-4o-mini" and "openai" in listed(app),
            what="the other model's providers",
        )
        assert "$" not in "".join(overlay_rows(app))
        select.focus()
        await wait_until(
            pilot, lambda: account.calls["gpt-4o-mini@openai"] >= 1, what="its own facts"
        )
        await wait_until(
            pilot,
            lambda: any(row.startswith("openai\n  $") for row in overlay_rows(app)),
            what="its facts shown",
        )
