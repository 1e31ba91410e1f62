"""Failure modes: damaged files, unwritable folders, two writers, and a kill -9 mid-write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.store.conftest import FakeClock, user
from tui_chat.store import Store, StoreCorrupt, StoreError, StoreUnavailable

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGE_SIZE = 4096


def _writer(*args: str) -> subprocess.Popen[str]:
    """Start tests/store/writer_process.py in its own interpreter."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.store.writer_process", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _filled_database(path: Path, messages: int = 300) -> int:
    with Store.open(path) as store:
        record = store.create_conversation("precious")
        for index in range(messages):
            store.append_message(record.id, user(f"message {index} " + "x" * 500))
        return record.id


def _damage_pages_after_the_first(path: Path) -> None:
    """Overwrite every page but the header page with garbage, as a bad disk might."""
    size = path.stat().st_size
    assert size > 4 * PAGE_SIZE
    with path.open("r+b") as file:
        file.seek(PAGE_SIZE)
        file.write(bytes(range(256)) * ((size - PAGE_SIZE) // 256))


# -- damaged files ---------------------------------------------------------------------------


def test_file_that_is_not_a_database_raises_store_corrupt(db_path: Path) -> None:
    db_path.write_bytes(b"this is not sqlite " * 500)
    with pytest.raises(StoreCorrupt) as caught:
        Store.open(db_path)
    assert caught.value.path == db_path
    assert isinstance(caught.value, StoreError)


def test_damage_inside_the_file_raises_store_corrupt(db_path: Path) -> None:
    _filled_database(db_path)
    _damage_pages_after_the_first(db_path)
    # Where the schema spills past the first page, opening finds the damage already.
    with pytest.raises(StoreCorrupt), Store.open(db_path) as store:
        assert store.integrity_check() != []
        store.list_conversations()


def test_open_or_recover_moves_a_non_database_aside_and_starts_fresh(db_path: Path) -> None:
    garbage = b"\x00garbage" * 1000
    db_path.write_bytes(garbage)
    (db_path.parent / (db_path.name + "-wal")).write_bytes(b"stale wal")

    store, recovery = Store.open_or_recover(db_path, clock=FakeClock(1_700_000_000.0))

    with store:
        assert recovery is not None
        assert "damaged" in recovery.reason
        assert recovery.moved_to.name.startswith("conversations.db.corrupt-2023")
        assert recovery.moved_to.read_bytes() == garbage  # kept for the user, not deleted
        assert sorted(p.name for p in recovery.moved_files) == sorted(
            [recovery.moved_to.name, recovery.moved_to.name + "-wal"]
        )
        assert store.list_conversations() == []
        assert store.integrity_check() == []


def test_open_or_recover_finds_damage_deep_in_the_file(db_path: Path) -> None:
    _filled_database(db_path)
    _damage_pages_after_the_first(db_path)
    store, recovery = Store.open_or_recover(db_path)
    with store:
        assert recovery is not None and recovery.moved_to.exists()
        assert store.list_conversations() == []


def test_open_or_recover_leaves_a_sound_database_alone(db_path: Path) -> None:
    conversation_id = _filled_database(db_path, messages=3)
    store, recovery = Store.open_or_recover(db_path)
    with store:
        assert recovery is None
        assert len(store.load_conversation(conversation_id).messages) == 3
    assert list(db_path.parent.glob("*.corrupt-*")) == []


def test_two_recoveries_in_one_second_keep_both_damaged_files(db_path: Path) -> None:
    moved = []
    for _ in range(2):
        db_path.write_bytes(b"not a database" * 300)
        store, recovery = Store.open_or_recover(db_path, clock=lambda: 1_700_000_000.0)
        store.close()
        assert recovery is not None
        moved.append(recovery.moved_to)
    assert moved[0] != moved[1] and all(path.exists() for path in moved)


# -- unwritable places -----------------------------------------------------------------------


def test_folder_that_cannot_be_created_raises_store_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    with pytest.raises(StoreUnavailable, match="folder"):
        Store.open(blocker / "conversations.db")


def test_path_that_is_a_folder_raises_store_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable):
        Store.open(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder_raises_store_unavailable(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(StoreUnavailable):
            Store.open(folder / "conversations.db")
    finally:
        folder.chmod(0o755)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_database_file_raises_store_unavailable_on_open(db_path: Path) -> None:
    Store.open(db_path).close()
    db_path.chmod(0o444)
    with pytest.raises(StoreUnavailable, match="read-only"):
        Store.open(db_path)


# -- two writers -----------------------------------------------------------------------------


def _assert_every_message_once_in_writer_order(
    store: Store, conversation_id: int, labels: list[str], count: int
) -> None:
    saved = store.load(conversation_id)
    contents = [message.content for message in saved.conversation.messages]
    assert sorted(contents) == sorted(f"{label} {i}" for label in labels for i in range(count))
    for label in labels:
        mine = [text for text in contents if text.startswith(label + " ")]
        assert mine == [f"{label} {i}" for i in range(count)]
    assert store.integrity_check() == []


def test_threads_sharing_one_store_lose_no_messages(store: Store) -> None:
    record = store.create_conversation()
    labels = [f"thread{n}" for n in range(4)]

    def append_all(label: str) -> None:
        for index in range(50):
            store.append_message(record.id, user(f"{label} {index}"))

    threads = [threading.Thread(target=append_all, args=(label,)) for label in labels]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _assert_every_message_once_in_writer_order(store, record.id, labels, 50)


def test_two_stores_on_one_file_in_threads_lose_no_messages(db_path: Path) -> None:
    first, second = Store.open(db_path), Store.open(db_path)
    record = first.create_conversation()
    errors: list[BaseException] = []

    def append_all(store: Store, label: str) -> None:
        try:
            for index in range(100):
                message_id = store.append_message(record.id, user(f"{label} {index}"))
                store.update_message(message_id, user(f"{label} {index}"))
                store.list_conversations()
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=append_all, args=(first, "first")),
        threading.Thread(target=append_all, args=(second, "second")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    _assert_every_message_once_in_writer_order(first, record.id, ["first", "second"], 100)
    first.close()
    second.close()


def test_two_processes_appending_at_once_lose_no_messages(db_path: Path) -> None:
    with Store.open(db_path) as store:
        conversation_id = store.create_conversation("shared").id
    writers = [
        _writer("append", str(db_path), str(conversation_id), f"proc{n}", "150") for n in (1, 2)
    ]
    for writer in writers:
        _, stderr = writer.communicate(timeout=30)
        assert writer.returncode == 0, stderr
    with Store.open(db_path) as store:
        _assert_every_message_once_in_writer_order(store, conversation_id, ["proc1", "proc2"], 150)


# -- kill -9 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("acknowledged_before_kill", [25, 60])
def test_kill_9_mid_write_loses_at_most_the_uncommitted_write(
    db_path: Path, acknowledged_before_kill: int
) -> None:
    writer = _writer("chat", str(db_path))
    assert writer.stdout is not None
    conversation_id = int(writer.stdout.readline().split()[1])
    acknowledged = -1
    while acknowledged < acknowledged_before_kill:
        line = writer.stdout.readline()
        assert line, writer.stderr.read() if writer.stderr else "writer died"
        acknowledged = int(line.split()[1])
    # The writer is busy appending and updating: the kill lands mid-write.
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=10)
    assert writer.returncode == -signal.SIGKILL

    with Store.open(db_path) as store:
        assert store.integrity_check() == []
        messages = store.load_conversation(conversation_id).messages
    user_texts = [m.content for m in messages if m.role == "user"]
    # Every acknowledged message is there, in order, with no gap; the writer may have committed
    # a few more between our reading its last acknowledgement and the kill.
    assert len(user_texts) > acknowledged
    assert user_texts == [f"user {i}" for i in range(len(user_texts))]
    for message in messages:
        if message.role == "assistant":  # every saved reply is a whole number of flushes
            assert "word0 word1 word2 word3 word4 ".startswith(message.content)
