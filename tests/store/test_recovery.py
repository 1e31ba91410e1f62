"""A damaged database is recovered, not only moved aside: every readable row comes back.

The damage is real: pages in the middle of a database with many conversations are overwritten
with garbage, as a bad disk or a stray write would leave them. Then ``Store.open_or_recover``
must bring back every conversation and message on the pages left intact, ids and text exact.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from tests.store.conftest import FakeClock, reply, user
from tui_chat.store import Store

PAGE = 4096
CONVERSATIONS = 150
TURNS = 3  # a user message and a reply each


def _many_conversations(path: Path) -> dict[int, tuple[int, str]]:
    """A database of CONVERSATIONS conversations; message id -> (conversation id, text)."""
    saved: dict[int, tuple[int, str]] = {}
    with Store.open(path, clock=FakeClock()) as store:
        for number in range(CONVERSATIONS):
            record = store.create_conversation(f"conversation {number}", model="m@p")
            for turn in range(TURNS):
                for message in (
                    user(f"question {number}.{turn} " + "q" * 200),
                    reply(f"answer {number}.{turn} " + "a" * 300),
                ):
                    message_id = store.append_message(record.id, message)
                    saved[message_id] = (record.id, message.content)
    return saved


def _pages_of_type(path: Path, kind: int) -> list[int]:
    """Page numbers (1-based) whose b-tree page type byte is ``kind`` (0x0D a table leaf,
    0x05 a table interior page)."""
    data = path.read_bytes()
    found = []
    for number in range(2, len(data) // PAGE + 1):
        if data[(number - 1) * PAGE] == kind:
            found.append(number)
    return found


def _overwrite(path: Path, pages: list[int], seed: int = 7) -> None:
    noise = random.Random(seed)
    with path.open("r+b") as file:
        for number in pages:
            file.seek((number - 1) * PAGE)
            file.write(bytes(noise.randrange(256) for _ in range(PAGE)))


def _check_recovered(store: Store, saved: dict[int, tuple[int, str]]) -> dict[int, str]:
    """Every message that came back is exactly one that was saved, in its own conversation."""
    back: dict[int, str] = {}
    for summary in store.list_conversations():
        recovered = store.load(summary.id)
        for message_id, message in zip(
            recovered.message_ids, recovered.conversation.messages, strict=True
        ):
            assert saved[message_id] == (summary.id, message.content)
            back[message_id] = message.content
    return back


def test_damaged_pages_in_the_middle_lose_only_the_rows_on_them(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    saved = _many_conversations(path)
    leaves = _pages_of_type(path, 0x0D)
    damaged = leaves[len(leaves) // 2 : len(leaves) // 2 + 4]  # four pages in the middle
    _overwrite(path, damaged)

    store, recovery = Store.open_or_recover(path)
    with store:
        assert recovery is not None
        assert recovery.moved_to.exists()  # the damaged file is kept for the user
        assert recovery.moved_to.read_bytes()[(damaged[0] - 1) * PAGE :][:16] != b"\0" * 16
        back = _check_recovered(store, saved)
        # At most the rows four pages hold are lost (a page holds under 12 of these messages).
        assert len(back) >= len(saved) - 4 * 12
        assert recovery.messages == len(back)
        assert recovery.conversations == len(store.list_conversations())
        assert recovery.conversations >= CONVERSATIONS - 4 * 12 // (2 * TURNS) - 4
        assert store.integrity_check() == []
        # Search works on what came back: the index was rebuilt from the recovered rows.
        hits = store.search("answer", limit=10_000)
        answers = {message_id for message_id, text in back.items() if text.startswith("answer")}
        assert {hit.message_id for hit in hits} == answers


def test_a_damaged_inner_page_loses_its_branch_and_the_rest_comes_back(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    saved = _many_conversations(path)
    interior = _pages_of_type(path, 0x05)
    assert interior, "the messages table should span more than one level"
    _overwrite(path, interior[:1])

    store, recovery = Store.open_or_recover(path)
    with store:
        assert recovery is not None
        back = _check_recovered(store, saved)
        assert back  # rows beyond the lost branch were found by reading past it
        assert recovery.messages == len(back)
        assert max(back) == max(saved) or max(saved) not in back  # no made-up rows


def test_messages_whose_conversation_row_is_lost_come_back_under_a_new_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "conversations.db"
    saved = _many_conversations(path)
    with Store.open(path) as store:
        store._conn.execute("PRAGMA foreign_keys = OFF")
        store._conn.execute("DELETE FROM conversations WHERE id = 3")  # as if its page were gone
    # Make it damaged so the recovery runs: garbage on one leaf page at the end of the file.
    _overwrite(path, _pages_of_type(path, 0x0D)[-1:])
    store, recovery = Store.open_or_recover(path)
    with store:
        assert recovery is not None
        titles = {summary.id: summary.title for summary in store.list_conversations()}
        assert titles.get(3) == "Recovered conversation"
        ids = store.load(3).message_ids
        assert ids and all(saved[message_id][0] == 3 for message_id in ids)


def _root_page(path: Path, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)
        ).fetchone()
    finally:
        conn.close()
    return int(root)


@pytest.mark.parametrize("lost", ["page 1", "messages", "conversations"])
def test_when_sqlite_cannot_reach_a_table_its_rows_are_read_off_the_pages(
    tmp_path: Path, lost: str
) -> None:
    """Page 1 (the schema) or a table's root page gone: SQLite reaches none of its rows."""
    path = tmp_path / "conversations.db"
    saved = _many_conversations(path)
    _overwrite(path, [1 if lost == "page 1" else _root_page(path, lost)])
    store, recovery = Store.open_or_recover(path)
    with store:
        assert recovery is not None
        back = _check_recovered(store, saved)
        assert len(back) == len(saved)  # every row was on an intact leaf page
        titles = {summary.title for summary in store.list_conversations()}
        assert titles == {f"conversation {number}" for number in range(CONVERSATIONS)}
        assert recovery.conversations == CONVERSATIONS and recovery.messages == len(saved)
        assert store.integrity_check() == []


def test_a_deleted_conversation_does_not_come_back_from_the_pages(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    saved = _many_conversations(path)
    with Store.open(path) as store:
        store.delete(5)
        secret = [text for _, (owner, text) in saved.items() if owner == 5]
    assert secret
    data = path.read_bytes()
    assert not any(text.encode() in data for text in secret)  # zeroed, not just freed
    _overwrite(path, [_root_page(path, "messages")])
    store, recovery = Store.open_or_recover(path)
    with store:
        assert recovery is not None
        assert 5 not in {summary.id for summary in store.list_conversations()}
        back = _check_recovered(store, saved)
        assert not set(secret) & set(back.values())


def test_the_first_notice_says_how_much_came_back_and_where_the_damaged_file_went(
    tmp_path: Path,
) -> None:
    from tui_chat.cli import open_conversation_store

    path = tmp_path / "conversations.db"
    _many_conversations(path)
    leaves = _pages_of_type(path, 0x0D)
    _overwrite(path, leaves[len(leaves) // 2 : len(leaves) // 2 + 2])
    store, notice = open_conversation_store(path)
    assert store is not None and notice is not None
    with store:
        count = len(store.list_conversations())
        messages = sum(s.message_count for s in store.list_conversations())
        assert f"{count} conversations ({messages} messages) were recovered" in notice
        moved = next(tmp_path.glob("conversations.db.corrupt-*[0-9]"))
        assert f"moved aside to {moved}" in notice
        assert "(database disk image is malformed)" in notice
