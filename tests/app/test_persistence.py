"""Saved conversations in the app: quit and restart, the list, search, settings, export.

Each test runs the real app (Pilot) against the embedded gateway, with a ``Store`` on a file in
``tmp_path``; a "restart" is a second app instance on the same file.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandList
from textual.widgets import Input, OptionList, TextArea

from tests.app.conftest import APP_SIZE, send, wait_for_reply, wait_until
from tui_chat.core.conversation import Message, Outcome
from tui_chat.store import Store, StoreUnavailable
from tui_chat.store.recorder import title_from_prompt
from tui_chat.ui.app import UnifyTUI
from tui_chat.ui.screens.conversations import ConversationsScreen
from tui_chat.ui.screens.dialogs import ConfirmScreen, TextPromptScreen
from tui_chat.ui.screens.settings import SettingsScreen
from tui_chat.ui.widgets.messages import ModelMarker, ReplyView, UserTurn


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "conversations.db"


@pytest.fixture
def open_store(db_path: Path) -> Iterator[Callable[[], Store]]:
    """Open the test database (as the CLI would), closing every store opened at the end."""
    opened: list[Store] = []

    def open_one() -> Store:
        store, recovery = Store.open_or_recover(db_path)
        assert recovery is None
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


def _palette_hits(app: UnifyTUI) -> int:
    lists = app.screen.query(CommandList)
    return lists.first().option_count if lists else 0


def user_texts(app: UnifyTUI) -> list[str]:
    return [turn.text for turn in app.chat_log.query(UserTurn)]


def status_text(app: UnifyTUI) -> str:
    return app.status.text


async def flush(app: UnifyTUI) -> None:
    """Wait (off the event loop) until the recorder has written everything queued so far."""
    assert app.recorder is not None
    assert await asyncio.to_thread(app.recorder.flush)


def notices(app: UnifyTUI) -> str:
    return " ".join(str(n.render()) for n in app.chat_log.query(".notice"))


async def open_conversation_list(pilot: Any, rows: int | None = None) -> OptionList:
    """Open the saved-conversations list (ctrl+o) and return it, once it has ``rows`` rows."""
    app = pilot.app
    await pilot.press("ctrl+o")
    await wait_until(pilot, lambda: isinstance(app.screen, ConversationsScreen), what="list")
    options: OptionList = app.screen.query_one("#conversation-list", OptionList)
    if rows is not None:
        await wait_until(pilot, lambda: options.option_count == rows, what=f"{rows} rows")
    return options


def row_texts(options: OptionList) -> list[str]:
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_conversation_survives_quit_and_restart(
    make_app: Any, sim: Any, open_store: Callable[[], Store]
) -> None:
    app = make_app(store=open_store())
    async with app.run_test(size=APP_SIZE) as pilot:
        assert "not saving" not in status_text(app)
        await send(pilot, "What is the capital of Spain?")
        await wait_for_reply(pilot, 1)
        app.switch_endpoint("gpt-4o-mini@openai")
        await send(pilot, "And of France?")
        await wait_for_reply(pilot, 2)
        before = [(m.role, m.content, m.served_endpoint, m.cost) for m in app.conversation.messages]
        total = app.conversation.total_cost
        assert total > 0
    # on_unmount closed the recorder: everything is on disk.

    again = make_app(store=open_store(), model="llama-3.1-8b-chat@groq")
    async with again.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: len(again.conversation.messages) == 4, what="restored")
        after = [
            (m.role, m.content, m.served_endpoint, m.cost) for m in again.conversation.messages
        ]
        assert after == before
        assert again.endpoint == "gpt-4o-mini@openai"  # the model in use when it was left
        assert again.conversation.total_cost == pytest.approx(total)
        assert again.status.total_cost == pytest.approx(total)
        await wait_until(
            pilot,
            lambda: user_texts(again) == ["What is the capital of Spain?", "And of France?"],
            what="user turns shown",
        )
        views = list(again.chat_log.query(ReplyView))
        assert [v.message.content for v in views] == [before[1][1], before[3][1]]
        provenance = str(views[0].provenance.render())
        assert "llama-3.1-8b-chat@groq" in provenance and "credits" in provenance
        # The model switch is shown where it happened.
        markers = list(again.chat_log.query(ModelMarker))
        assert [m.endpoint for m in markers] == ["gpt-4o-mini@openai"]
        # ... before the prompt the new model answered, as it stood live (regression: it was
        # put between that prompt and its reply).
        shown = [w for w in again.chat_log.children if isinstance(w, (ModelMarker, UserTurn))]
        kinds = [type(w).__name__ for w in shown]
        assert kinds[-2:] == ["ModelMarker", "UserTurn"]
        # History is resent from the restored conversation.
        await send(pilot, "And of Italy?")
        await wait_for_reply(pilot, 3)
        sent = sim.requests[-1].body["messages"]
        assert [m["content"] for m in sent if m["role"] == "user"] == [
            "What is the capital of Spain?",
            "And of France?",
            "And of Italy?",
        ]
        await flush(again)
    with Store.open(open_store().path) as check:
        record = check.last_opened_conversation()
        assert record is not None
        assert record.title == "What is the capital of Spain?"
        assert len(check.load_conversation(record.id).messages) == 6


async def chat_once(app: UnifyTUI, prompt: str) -> None:
    """Run ``app``, send ``prompt``, wait for the reply and quit: a conversation to reopen."""
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, prompt)
        await wait_for_reply(pilot, 1)


async def test_database_opened_after_the_first_frame_reopens_and_saves(
    make_app: Any, sim: Any, open_store: Callable[[], Store]
) -> None:
    """The command line's way: the app opens the database itself once its first frame is up."""
    await chat_once(make_app(store=open_store()), "What is the capital of Spain?")
    opened: list[Store] = []

    def opener() -> tuple[Store, None]:
        opened.append(open_store())
        return opened[-1], None

    app = make_app(open_store=opener)
    assert app.store is None  # not opened before the app runs
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: len(app.conversation.messages) == 2, what="reopened")
        assert len(opened) == 1 and app.store is opened[0]
        await send(pilot, "And of France?")
        await wait_for_reply(pilot, 2)
        await flush(app)
    with Store.open(opened[0].path) as check:
        record = check.last_opened_conversation()
        assert record is not None
        assert len(check.load_conversation(record.id).messages) == 4


async def test_messages_sent_before_the_database_opened_are_saved_not_replaced(
    make_app: Any, sim: Any, open_store: Callable[[], Store]
) -> None:
    """Typed ahead of the first frame: kept, saved, and the last conversation not reopened."""
    await chat_once(make_app(store=open_store()), "An older conversation")
    app: UnifyTUI

    def opener() -> tuple[Store, str]:
        # What a prompt sent before the first frame left behind: a message, not yet saved.
        app.conversation.messages.append(Message(role="user", content="Typed ahead"))
        return open_store(), "Saving to a test database."

    app = make_app(open_store=opener)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: app.recorder is not None, what="saving started")
        await pilot.pause(0.2)
        assert [m.content for m in app.conversation.messages] == ["Typed ahead"]
        assert "Saving to a test database." in notices(app)
        await flush(app)
        assert app.store is not None
        record = app.store.last_opened_conversation()
        assert record is not None and record.title == "Typed ahead"


async def test_without_a_store_the_app_chats_and_says_not_saving(make_app: Any, sim: Any) -> None:
    app = make_app(store_notice="Not saving: the data folder /x is read-only.")
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: "not saving" in status_text(app), what="status")
        assert "Not saving: the data folder /x is read-only." in notices(app)
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        assert app.conversation.last_reply is not None
        assert app.conversation.last_reply.outcome is Outcome.COMPLETE
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert not isinstance(app.screen, ConversationsScreen)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_data_dir_is_store_unavailable(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(StoreUnavailable):
            Store.open_or_recover(folder / "conversations.db")
    finally:
        folder.chmod(0o700)


async def test_cli_read_only_and_corrupt_database_messages(tmp_path: Path) -> None:
    from tui_chat.cli import open_conversation_store

    corrupt = tmp_path / "bad" / "conversations.db"
    corrupt.parent.mkdir()
    corrupt.write_bytes(b"this is not a database" * 100)
    store, notice = open_conversation_store(corrupt)
    assert store is not None
    try:
        assert notice is not None and "damaged" in notice.lower()
        moved = [p for p in corrupt.parent.iterdir() if ".corrupt-" in p.name]
        assert len(moved) == 1 and moved[0].name in notice
        assert store.list_conversations() == []
    finally:
        store.close()

    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    store, notice = open_conversation_store(blocked / "conversations.db")
    assert store is None
    assert notice is not None and notice.startswith("Not saving:")


async def test_corrupt_database_notice_is_shown_and_app_saves_to_a_fresh_file(
    make_app: Any, sim: Any, db_path: Path
) -> None:
    from tui_chat.cli import open_conversation_store

    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"\x00garbage" * 500)
    store, notice = open_conversation_store(db_path)
    assert store is not None and notice is not None
    try:
        app = make_app(store=store, store_notice=notice)
        async with app.run_test(size=APP_SIZE) as pilot:
            shown = notices(app)
            assert "moved aside" in shown and ".corrupt-" in shown
            await send(pilot, "first words in a fresh file")
            await wait_for_reply(pilot)
            await flush(app)
        assert store.integrity_check() == []
        assert [s.title for s in store.list_conversations()] == ["first words in a fresh file"]
    finally:
        store.close()


async def test_list_open_rename_delete_with_keys(
    make_app: Any, sim: Any, open_store: Callable[[], Store]
) -> None:
    store = open_store()
    app = make_app(store=store)
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "alpha conversation about tea")
        await wait_for_reply(pilot, 1)
        await pilot.press("ctrl+n")
        await send(pilot, "beta conversation about coffee")
        await wait_for_reply(pilot, 1)
        await flush(app)
        second_id = app.conversation_id

        options = await open_conversation_list(pilot, rows=2)
        rows = row_texts(options)
        assert "beta conversation about coffee" in rows[0]  # newest first
        assert "credits" in rows[0] and "llama-3.1-8b-chat@groq" in rows[0]
        assert options.highlighted == 0  # the open conversation

        # Open the older one with the keyboard.
        await pilot.press("down")
        await pilot.press("down")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConversationsScreen))
        await wait_until(
            pilot, lambda: user_texts(app) == ["alpha conversation about tea"], what="opened"
        )
        assert app.conversation_id != second_id
        assert app.conversation.messages[1].outcome is Outcome.COMPLETE

        # Rename the highlighted (open) conversation.
        options = await open_conversation_list(pilot, rows=2)
        await pilot.press("down")  # from the search box to the list
        options.highlighted = 1 if "alpha" in str(options.get_option_at_index(1).prompt) else 0
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, TextPromptScreen), what="rename")
        answer = app.screen.query_one(Input)
        answer.value = ""
        await pilot.press(*"Tea notes")
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: any("Tea notes" in row for row in row_texts(options)),
            what="renamed row",
        )

        # Delete the other one: a confirmation first, and cancel keeps it.
        index = next(i for i, row in enumerate(row_texts(options)) if "beta" in row)
        options.highlighted = index
        await pilot.press("delete")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConversationsScreen))
        assert options.option_count == 2
        options.highlighted = index
        await pilot.press("delete")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("tab", "enter")  # from Cancel to Delete
        await wait_until(pilot, lambda: options.option_count == 1, what="deleted")
        assert "Tea notes" in str(options.get_option_at_index(0).prompt)
        await pilot.press("escape")
    titles = [s.title for s in store.list_conversations()]
    assert titles == ["Tea notes"]


async def test_deleting_the_open_conversation_starts_a_new_one(
    make_app: Any, sim: Any, open_store: Callable[[], Store]
) -> None:
    store = open_store()
    app = make_app(store=store)
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "short lived")
        await wait_for_reply(pilot)
        await flush(app)
        await open_conversation_list(pilot, rows=1)
        await pilot.press("down", "delete")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("tab", "enter")
        await wait_until(pilot, lambda: app.conversation.messages == [], what="new conversation")
        await pilot.press("escape")
        await send(pilot, "a new start")
        await wait_for_reply(pilot)
        await flush(app)
    assert [s.title for s in store.list_conversations()] == ["a new start"]


async def test_search_as_you_type_jumps_to_the_hit(
    make_app: Any, sim: Any, open_store: Callable[[], Store]
) -> None:
    store = open_store()
    app = make_app(store=store)
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "Tell me about the zeppelin hangar")
        await wait_for_reply(pilot)
        for index in range(8):  # push the hit far up the log
            await send(pilot, f"filler question number {index}")
            await wait_for_reply(pilot, index + 2)
        await pilot.press("ctrl+n")
        await send(pilot, "something else entirely")
        await wait_for_reply(pilot)
        await flush(app)

        options = await open_conversation_list(pilot)
        await pilot.press(*"zeppe")
        await wait_until(
            pilot,
            lambda: (
                options.option_count >= 1
                and "zeppelin" in str(options.get_option_at_index(0).prompt)
            ),
            what="search hit",
        )
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: bool(list(app.chat_log.query(".-search-hit"))),
            what="the hit is highlighted",
        )
        hit = app.chat_log.query_one(".-search-hit")
        assert isinstance(hit, UserTurn | ReplyView)
        shown = hit.text if isinstance(hit, UserTurn) else hit.message.content
        assert "zeppelin" in shown.lower()
        assert app.conversation_title == title_from_prompt("Tell me about the zeppelin hangar")
        # The log scrolled up to it (it is not at the bottom).
        await wait_until(
            pilot,
            lambda: app.chat_log.scroll_offset.y < app.chat_log.max_scroll_y,
            what="scrolled to the hit",
        )
        await wait_until(
            pilot,
            lambda: (
                hit.region.y >= app.chat_log.region.y and hit.region.y < app.chat_log.region.bottom
            ),
            what="hit in view",
        )


async def test_settings_are_stored_sent_and_restored(
    make_app: Any, sim: Any, open_store: Callable[[], Store]
) -> None:
    app = make_app(store=open_store())
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen), what="settings")
        screen = app.screen
        screen.query_one("#system-prompt", TextArea).load_text("You answer like a pirate.")
        screen.query_one("#temperature", Input).value = "0.3"
        screen.query_one("#max-tokens", Input).value = "64"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SettingsScreen))
        await send(pilot, "hello")
        await wait_for_reply(pilot)
        body = sim.requests[-1].body
        assert body["messages"][0] == {"role": "system", "content": "You answer like a pirate."}
        assert body["temperature"] == 0.3
        assert body["max_tokens"] == 64
        await flush(app)

    again = make_app(store=open_store())
    async with again.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: len(again.conversation.messages) == 2, what="restored")
        assert again.conversation.system_prompt == "You answer like a pirate."
        assert again.temperature == 0.3 and again.max_tokens == 64
        await send(pilot, "again")
        await wait_for_reply(pilot, 2)
        body = sim.requests[-1].body
        assert body["messages"][0]["content"] == "You answer like a pirate."
        assert body["temperature"] == 0.3 and body["max_tokens"] == 64
        # A bad value is refused on the form, naming the field.
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(again.screen, SettingsScreen))
        again.screen.query_one("#temperature", Input).value = "7"
        await pilot.press("ctrl+s")
        error = again.screen.query_one("#settings-error")
        assert "Temperature" in str(error.render())
        await pilot.press("escape")
        assert again.temperature == 0.3


async def test_spend_cap_stops_sending(
    make_app: Any, sim: Any, open_store: Callable[[], Store]
) -> None:
    app = make_app(store=open_store())
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "spend something")
        await wait_for_reply(pilot)
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen))
        app.screen.query_one("#spend-cap", Input).value = "0.0000001"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, SettingsScreen))
        requests = len(sim.requests)
        await send(pilot, "one more")
        await pilot.pause()
        assert len(sim.requests) == requests
        assert app.prompt.text == "one more"  # kept in the box


async def test_export_markdown_and_json(
    make_app: Any, sim: Any, open_store: Callable[[], Store], tmp_path: Path
) -> None:
    exports = tmp_path / "exports"
    app = make_app(store=open_store(), export_dir=exports)
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "What is the capital of Spain?")
        await wait_for_reply(pilot)
        reply = app.conversation.messages[1]
        await pilot.press("ctrl+p")  # through the command palette, as a user would
        await pilot.press(*"Export conversation as Markdown")
        await wait_until(pilot, lambda: _palette_hits(app) > 0, what="palette hit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(list(exports.glob("*.md"))) == 1, what="md file")
        app.action_export_json()
        await wait_until(pilot, lambda: len(list(exports.glob("*.json"))) == 1, what="json")
        await wait_until(
            pilot,
            lambda: sum("Exported to" in n.message for n in app._notifications) == 2,
            what="notifications naming the files",
        )
        named = " ".join(n.message for n in app._notifications)
        markdown_path = next(exports.glob("*.md"))
        assert str(markdown_path) in named
    markdown = markdown_path.read_text()
    assert "What is the capital of Spain?" in markdown
    assert reply.content in markdown
    assert "llama-3.1-8b-chat@groq" in markdown
    assert f"{reply.cost:.6f}" in markdown
    assert "test-key" not in markdown
    text = next(exports.glob("*.json")).read_text()
    assert "test-key" not in text
    document = json.loads(text)
    exported = document["messages"][1]
    assert exported["served_endpoint"] == "llama-3.1-8b-chat@groq"
    assert exported["cost"] == pytest.approx(reply.cost)
    assert exported["completion_tokens"] == reply.completion_tokens


async def _export_through_the_palette(pilot: Any, folder: Path) -> Path:
    """Send a message, export it as Markdown from the command palette; the file written."""
    app = pilot.app
    await send(pilot, "What is the capital of Spain?")
    await wait_for_reply(pilot)
    await pilot.press("ctrl+p")
    await pilot.press(*"Export conversation as Markdown")
    await wait_until(pilot, lambda: _palette_hits(app) > 0, what="palette hit")
    await pilot.press("enter")
    await wait_until(pilot, lambda: len(list(folder.glob("*.md"))) == 1, what=f"a file in {folder}")
    return next(folder.glob("*.md"))


@pytest.mark.parametrize("flag", [False, True])
async def test_export_lands_in_the_folder_from_config_or_flag(
    sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: bool
) -> None:
    """config.toml's export_dir (or --export-dir over it), from the command line to the file."""
    from tui_chat import cli

    config = tmp_path / "config.toml"
    config.write_text(
        "export_dir = '~/chats/exports'\ndefault_gateway = 'sim'\n[gateways.sim]\n"
        f"kind = 'unify'\nbase_url = '{sim.base_url}'\nkey_env = 'SIM_KEY'\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SIM_KEY", "test-key")
    built: list[UnifyTUI] = []
    monkeypatch.setattr(UnifyTUI, "run", lambda self, *a, **k: built.append(self))
    flag_dir = tmp_path / "from-flag"
    argv = ["--config", str(config), "--model", "llama-3.1-8b-chat@groq", "--no-save"]
    assert cli.main(argv + (["--export-dir", str(flag_dir)] if flag else [])) == 0
    (app,) = built
    assert app.startup_notice is None
    configured = Path.home() / "chats" / "exports"  # "~" is the test's own home
    expected, other = (flag_dir, configured) if flag else (configured, flag_dir)
    assert not expected.exists()  # created by the export
    async with app.run_test(size=APP_SIZE) as pilot:
        written = await _export_through_the_palette(pilot, expected)
        await wait_until(
            pilot,
            lambda: any("Exported to" in n.message for n in app._notifications),
            what="the notification",
        )
        assert f"Exported to {written}" in [n.message for n in app._notifications]
    assert written.parent == expected
    assert "What is the capital of Spain?" in written.read_text()
    assert not other.exists()
    assert not (Path.home() / "Documents").exists()  # not the default folder either


@pytest.mark.parametrize("below", [(), ("sub", "folder")])
async def test_export_to_a_folder_that_cannot_be_written_says_so_and_goes_on(
    make_app: Any, sim: Any, tmp_path: Path, below: tuple[str, ...]
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the export folder should be\n")  # fails even for root
    folder = blocker.joinpath(*below)  # the file is the folder itself, or one of its parents
    app = make_app(export_dir=folder)
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "What is the capital of Spain?")
        await wait_for_reply(pilot)
        app.action_export_markdown()
        await wait_until(
            pilot,
            lambda: any(n.title == "Not exported" for n in app._notifications),
            what="the error notification",
        )
        (failed,) = [n for n in app._notifications if n.title == "Not exported"]
        assert failed.severity == "error"
        assert f"the export folder is {folder} " in failed.message
        assert f"{blocker} is a file, not a folder" in failed.message
        assert "export_dir" in failed.message and "--export-dir" in failed.message
        # The app carries on: the next message is sent and answered.
        await send(pilot, "And of France?")
        await wait_for_reply(pilot, 2)
        assert app.is_running
    assert blocker.read_text() == "a file where the export folder should be\n"
    assert list(tmp_path.glob("**/*.md")) == []


async def test_stopped_reply_is_saved_with_its_text(
    make_app: Any, sim: Any, open_store: Callable[[], Store]
) -> None:
    sim.controls.token_delay_s = 0.02
    sim.controls.reply_tokens = 400
    store = open_store()
    app = make_app(store=store)
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "a long answer please")
        await wait_until(pilot, lambda: len(app.conversation.messages[-1].content) > 40)
        await pilot.press("escape")
        await wait_for_reply(pilot)
        partial = app.conversation.messages[-1].content
        await flush(app)
        conversation_id = app.conversation_id
    assert conversation_id is not None
    saved = store.load_conversation(conversation_id).messages[-1]
    assert saved.outcome is Outcome.STOPPED
    assert saved.content == partial


async def test_clear_history_and_retry_are_saved(
    make_app: Any, sim: Any, open_store: Callable[[], Store]
) -> None:
    store = open_store()
    app = make_app(store=store)
    async with app.run_test(size=APP_SIZE) as pilot:
        await send(pilot, "to be forgotten")
        await wait_for_reply(pilot)
        await pilot.press("f8")  # asks first (regression: it wiped the conversation at once)
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="question")
        await pilot.press("escape")  # no: nothing is cleared
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="closed")
        assert [m.content for m in app.conversation.messages][:1] == ["to be forgotten"]
        await pilot.press("f8")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="question")
        await pilot.click("#confirm")
        await wait_until(pilot, lambda: not app.conversation.messages, what="cleared")
        await send(pilot, "kept")
        await wait_for_reply(pilot)
        await flush(app)
        conversation_id = app.conversation_id
    assert conversation_id is not None
    messages = store.load_conversation(conversation_id).messages
    assert [m.content for m in messages if m.role == "user"] == ["kept"]


async def test_a_failed_write_is_reported_and_chat_goes_on(
    make_app: Any, sim: Any, open_store: Callable[[], Store]
) -> None:
    store = open_store()
    app = make_app(store=store)
    async with app.run_test(size=APP_SIZE) as pilot:
        store.close()  # every write from now on fails
        await send(pilot, "will not be saved")
        await wait_for_reply(pilot)
        await wait_until(pilot, lambda: "save failed" in status_text(app), what="status")
        assert any("Could not save" in n.message for n in app._notifications)
        await send(pilot, "chatting goes on")
        await wait_for_reply(pilot, 2)
        assert app.conversation.messages[-1].outcome is Outcome.COMPLETE


async def test_save_failure_text_with_markup_is_shown_literally(
    make_app: Any, sim: Any, open_store: Callable[[], Store]
) -> None:
    # Regression: the reason was passed to notify() as markup; "[/]" in a path raised MarkupError.
    from tui_chat.ui.saved_messages import SaveFailed

    app = make_app(store=open_store())
    async with app.run_test(size=APP_SIZE, notifications=True) as pilot:
        app.post_message(SaveFailed("disk [/]full [bold]x"))
        await wait_until(pilot, lambda: "save failed" in status_text(app), what="status")

        def toast_text() -> str:
            return " ".join(str(toast.render()) for toast in app.screen.query("Toast"))

        await wait_until(pilot, lambda: "disk [/]full [bold]x" in toast_text(), what="literal")
        assert app.is_running


class _ClosingApp:
    """Just enough of an app for ``SavedConversations`` to open its store: workers run at once,
    and ``post_message`` answers as an app that is closing does (False), or queues (True) a
    message the closing app will never handle."""

    def __init__(self, *, accepts_messages: bool) -> None:
        self.temperature: float | None = None
        self.max_tokens: int | None = None
        self.accepts_messages = accepts_messages
        self.posted: list[Any] = []

    def run_worker(self, work: Callable[[], None], **options: Any) -> None:
        work()

    def post_message(self, message: Any) -> bool:
        self.posted.append(message)
        return self.accepts_messages


@pytest.mark.parametrize("accepts_messages", [False, True])
def test_a_store_opened_as_the_app_closes_is_closed(
    open_store: Callable[[], Store], accepts_messages: bool
) -> None:
    """Regression guard: the database opened after the first frame, when the app is already
    closing, must not stay open (the command line closes only the store the app took)."""
    from tui_chat.ui.saved_conversations import SavedConversations
    from tui_chat.ui.saved_messages import StoreOpened

    app = _ClosingApp(accepts_messages=accepts_messages)
    opened = open_store()
    saved = SavedConversations(
        app,  # type: ignore[arg-type]
        store=None,
        store_notice=None,
        export_dir=None,
        flush_interval_s=1.0,
        open_store=lambda: (opened, None),
    )
    saved.open_store_in_background()
    assert [type(message) for message in app.posted] == [StoreOpened]
    saved.stop()  # on unmount: the message was refused, or queued but never handled
    assert saved.store is None
    with pytest.raises(StoreUnavailable):
        opened.list_conversations()
