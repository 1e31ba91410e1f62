"""Markdown and JSON exports: every turn with its provenance, and never a secret."""

from __future__ import annotations

import json
import time
from datetime import UTC
from pathlib import Path

import platformdirs
import pytest

from tests.store.conftest import reply, user
from tui_chat.core.conversation import Conversation, Message, Outcome
from tui_chat.store import Store
from tui_chat.store.export import (
    EXPORT_FORMAT,
    ExportError,
    default_export_dir,
    export_file_name,
    export_folder_problem,
    to_json,
    to_markdown,
    write_export,
)

FAKE_KEY = "sk-unify-0123456789abcdefSECRET"


def _conversation() -> Conversation:
    conversation = Conversation(system_prompt="Answer in one line.")
    conversation.messages.append(user("What is 2+2?", created_at=1_700_000_000.0))
    answer = reply("4", requested="router@cost", served="llama-3-8b@together", cost=0.000123)
    answer.cost_estimated = True
    conversation.messages.append(answer)
    conversation.messages.append(user("And 3+3?", created_at=1_700_000_010.0))
    conversation.messages.append(reply("6", outcome=Outcome.STOPPED, cost=0.5))
    conversation.messages.append(user("boom", created_at=1_700_000_020.0))
    conversation.messages.append(
        Message(
            role="assistant",
            content="",
            created_at=1_700_000_021.0,
            requested_endpoint="gpt-4o@openai",
            outcome=Outcome.ERROR,
            error="Rate limited (429): slow down.",
        )
    )
    return conversation


def test_markdown_shows_each_turn_with_endpoint_tokens_and_cost() -> None:
    text = to_markdown(_conversation(), "Sums", exported_at=1_700_000_100.0, tz=UTC)
    assert text.startswith("# Sums\n")
    assert "6 messages · total cost $0.500123 (estimated)" in text
    assert "> Answer in one line." in text
    assert "### You · 2023-11-14 22:13:20" in text
    assert (
        "*served by `llama-3-8b@together` · requested `router@cost` · 12 prompt + 34 completion"
        " tokens · $0.000123 (estimated) · first token 230 ms · 1.5 s*"
    ) in text
    assert "*Stopped before the reply was complete.*" in text
    assert "> **Error:** Rate limited (429): slow down." in text


def test_markdown_says_how_an_unfinished_reply_ended() -> None:
    conversation = Conversation()
    for ending in (Outcome.CUT, Outcome.LENGTH, Outcome.FILTERED):
        conversation.messages.append(user("go"))
        conversation.messages.append(reply(f"half {ending.value}", outcome=ending))
    text = to_markdown(conversation, "Endings", exported_at=1_700_000_100.0, tz=UTC)
    assert "*Incomplete: cut off: the stream ended before the reply finished.*" in text
    assert "*Incomplete: stopped at the token limit.*" in text
    assert "*Incomplete: stopped by the provider's content filter.*" in text
    document = json.loads(to_json(conversation, "Endings", exported_at=5.0))
    outcomes = [m["outcome"] for m in document["messages"] if m["role"] == "assistant"]
    assert outcomes == ["cut", "length", "filtered"]


def test_markdown_includes_settings_from_the_saved_record(store: Store) -> None:
    record = store.create_conversation("Tuned", model="gpt-4o@openai", temperature=0.2)
    store.set_conversation_settings(record.id, max_tokens=256, spend_cap=1.5)
    saved = store.load(record.id)
    text = to_markdown(saved.conversation, "Tuned", record=saved.record, tz=UTC)
    for line in ("- Model: `gpt-4o@openai`", "- Temperature: 0.2", "- Max tokens: 256"):
        assert line in text
    assert "- Spend cap: $1.50" in text


def test_json_export_has_every_field_of_every_turn() -> None:
    document = json.loads(to_json(_conversation(), "Sums", exported_at=5.0))
    assert document["format"] == EXPORT_FORMAT
    assert (document["title"], document["exported_at"]) == ("Sums", 5.0)
    assert document["total_cost"] == pytest.approx(0.500123)
    assert (document["total_cost_estimated"], document["total_cost_partial"]) == (True, False)
    answer = document["messages"][1]
    assert answer == {
        "role": "assistant",
        "content": "4",
        "created_at": 1_700_000_001.0,
        "requested_endpoint": "router@cost",
        "served_endpoint": "llama-3-8b@together",
        "prompt_tokens": 12,
        "completion_tokens": 34,
        "cost": 0.000123,
        "cost_estimated": True,
        "tokens_estimated": False,
        "ttft_ms": 230.0,
        "duration_ms": 1500.0,
        "outcome": "complete",
        "error": None,
    }
    assert document["messages"][5]["error"] == "Rate limited (429): slow down."


def test_json_export_round_trips_awkward_text() -> None:
    awkward = "\x1b[31m red \x00 مرحبا 👩‍👩‍👧 \ud800"
    conversation = Conversation(messages=[user(awkward)])
    document = json.loads(to_json(conversation, awkward))
    assert document["messages"][0]["content"] == awkward.replace("\ud800", "\ufffd")
    assert document["title"] == awkward.replace("\ud800", "\ufffd")


def test_exports_never_contain_a_key_that_is_not_message_text(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNIFY_KEY", FAKE_KEY)
    record = store.create_conversation("Keys", model="gpt-4o@openai", spend_cap=1.0)
    store.append_message(record.id, user("hello"))
    store.append_message(record.id, reply("hi"))
    saved = store.load(record.id)
    # Even if some object carried a key, exports copy named fields only.
    saved.conversation.api_key = FAKE_KEY  # type: ignore[attr-defined]
    saved.conversation.messages[1].api_key = FAKE_KEY  # type: ignore[attr-defined]
    for export in (
        to_markdown(saved.conversation, "Keys", record=saved.record),
        to_json(saved.conversation, "Keys", record=saved.record),
    ):
        assert FAKE_KEY not in export
        assert "api_key" not in export
    document = json.loads(to_json(saved.conversation, "Keys", record=saved.record))
    assert set(document) == {
        "format",
        "format_version",
        "exported_at",
        "title",
        "system_prompt",
        "total_cost",
        "total_cost_estimated",
        "total_cost_partial",
        "conversation",
        "messages",
    }
    assert set(document["conversation"]) == {
        "id",
        "created_at",
        "updated_at",
        "model",
        "temperature",
        "max_tokens",
        "spend_cap",
        "archived",
    }


def test_key_typed_into_a_message_is_exported_as_the_text_it_is() -> None:
    conversation = Conversation(messages=[user(f"my key is {FAKE_KEY}")])
    assert FAKE_KEY in to_markdown(conversation, "t")
    assert FAKE_KEY in to_json(conversation, "t")


def test_endpoint_with_backticks_stays_inline_code() -> None:
    conversation = Conversation(messages=[reply("x", served="odd`name@p", requested="odd`name@p")])
    assert "served by `` odd`name@p ``" in to_markdown(conversation, "t", tz=UTC)


NOW = 1_700_000_000.0


def _stamp(now: float) -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.localtime(now))


def test_file_name_is_a_safe_slug_of_the_title_and_the_local_time() -> None:
    assert export_file_name("What is 2+2?", ".md", NOW) == f"What-is-2-2-{_stamp(NOW)}.md"
    assert export_file_name("../../etc/passwd", ".json", NOW) == f"etc-passwd-{_stamp(NOW)}.json"
    long = export_file_name("x" * 100, ".md", NOW)
    assert long == f"{'x' * 40}-{_stamp(NOW)}.md"


def test_file_name_of_a_title_with_no_safe_letters_says_conversation() -> None:
    assert export_file_name("¿¡ ... !?", ".md", NOW) == f"conversation-{_stamp(NOW)}.md"


def test_default_export_dir_is_unify_tui_in_the_documents_folder() -> None:
    assert default_export_dir() == Path(platformdirs.user_documents_dir()) / "unify-tui"


def test_write_export_creates_the_folder_and_writes_markdown_or_json(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "exports"
    conversation = _conversation()
    markdown = write_export(conversation, "Sums", "markdown", folder, now=NOW)
    document = write_export(conversation, "Sums", "json", folder, now=NOW)
    assert markdown == folder / f"Sums-{_stamp(NOW)}.md"
    assert document == folder / f"Sums-{_stamp(NOW)}.json"
    assert markdown.read_text(encoding="utf-8") == to_markdown(
        conversation, "Sums", exported_at=NOW
    )
    assert json.loads(document.read_text(encoding="utf-8"))["format"] == EXPORT_FORMAT


@pytest.mark.parametrize("below", [(), ("sub", "folder")])
def test_a_file_where_the_export_folder_should_be_is_named(
    tmp_path: Path, below: tuple[str, ...]
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("kept\n")
    folder = blocker.joinpath(*below)
    with pytest.raises(ExportError) as raised:
        write_export(_conversation(), "Sums", "markdown", folder, now=NOW)
    error = raised.value
    assert error.folder == folder
    assert error.path == folder / f"Sums-{_stamp(NOW)}.md"
    assert error.reason == f"{blocker} is a file, not a folder"
    assert blocker.read_text() == "kept\n"


def test_folder_problem_without_a_file_in_the_way_is_the_system_s_words(tmp_path: Path) -> None:
    error = PermissionError(13, "Permission denied")
    assert export_folder_problem(tmp_path / "missing", error) == "Permission denied"
    assert export_folder_problem(tmp_path, OSError("odd")) == "odd"


# -- what a terminal would run, and who may read the file -----------------------------------

HOSTILE = (
    "clip \x1b]52;c;ZWNobyBoaQ==\x07 clear \x1b[2J csi \x9b31m lone \x1b bell \x07"
    " del \x7f osc-st \x1b]0;title\x1b\\ cr \rover"
)
RAW_CONTROLS = [chr(code) for code in (*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0))]


def _hostile_conversation() -> Conversation:
    conversation = Conversation(system_prompt="sys \x1b[2J")
    conversation.messages.append(user("ask \x1b[2J"))
    answer = reply(HOSTILE, served="model\x1b[31m@evil")
    answer.outcome = Outcome.ERROR
    answer.error = "bad \x1b]52;c;eA==\x07"
    conversation.messages.append(answer)
    return conversation


def test_markdown_export_makes_escape_sequences_inert_as_the_screen_does() -> None:
    text = to_markdown(_hostile_conversation(), "title \x1b]0;pwned\x07")
    assert not [char for char in RAW_CONTROLS if char in text]
    # The stand-ins the chat log shows: ␛ for ESC, ␇ for BEL, \x9b for the C1 CSI.
    assert "clip ␛]52;c;ZWNobyBoaQ==␇" in text
    assert "clear ␛[2J" in text and "csi \\x9b31m" in text and "del ␡" in text
    assert "cr ␍over" in text


def test_json_export_escapes_every_control_character_and_keeps_the_text_exact() -> None:
    conversation = _hostile_conversation()
    text = to_json(conversation, "title \x1b]0;pwned\x07")
    assert not [char for char in RAW_CONTROLS if char in text]  # DEL and C1 too, not only C0
    document = json.loads(text)
    assert document["messages"][1]["content"] == HOSTILE
    assert document["messages"][1]["served_endpoint"] == "model\x1b[31m@evil"
    assert document["title"] == "title \x1b]0;pwned\x07"


def test_exports_are_private_and_the_folder_made_for_them_too(tmp_path: Path) -> None:
    folder = tmp_path / "made" / "exports"
    markdown = write_export(_conversation(), "Sums", "markdown", folder, now=NOW)
    document = write_export(_conversation(), "Sums", "json", folder, now=NOW)
    assert markdown.stat().st_mode & 0o777 == 0o600
    assert document.stat().st_mode & 0o777 == 0o600
    assert folder.stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "made").stat().st_mode & 0o777 == 0o700  # made by the export too


def test_an_existing_export_folder_keeps_its_mode_and_an_old_file_is_narrowed(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    stale = folder / f"Sums-{_stamp(NOW)}.md"
    stale.write_text("old")
    stale.chmod(0o644)
    path = write_export(_conversation(), "Sums", "markdown", folder, now=NOW)
    assert path == stale
    assert path.stat().st_mode & 0o777 == 0o600
    assert folder.stat().st_mode & 0o777 == 0o755  # the user's folder: not ours to change
    assert path.read_text(encoding="utf-8").startswith("# Sums")
