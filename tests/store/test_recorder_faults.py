"""Passing faults never drop a turn: writes wait in order, are retried, and outlive the process.

The faults are real: a lock held by another process (``BEGIN EXCLUSIVE`` through the plain
sqlite3 module), a database that is full (``PRAGMA max_page_count``, which gives SQLite's own
SQLITE_FULL, the error of a full disk), and a real full tmpfs where the machine allows mounting
one. Busy timeouts and retry delays are short so the tests do not wait.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.faults import REPO_ROOT, fill_up, held_lock, make_room, wait_for
from tui_chat.core.conversation import Conversation, Outcome
from tui_chat.store import Store
from tui_chat.store.journal import JOURNAL_SUFFIX, read_journal
from tui_chat.store.recorder import ConversationRecorder

FAST = {"retry_first_s": 0.05, "retry_most_s": 0.2}


class Events:
    """What the recorder reported: pending counts (with reasons) and failures."""

    def __init__(self) -> None:
        self.pending: list[tuple[int, str | None]] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def on_pending(self, count: int, reason: str | None) -> None:
        with self._lock:
            self.pending.append((count, reason))

    def on_error(self, text: str) -> None:
        with self._lock:
            self.errors.append(text)

    @property
    def last_pending(self) -> tuple[int, str | None] | None:
        with self._lock:
            return self.pending[-1] if self.pending else None


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "conversations.db", busy_timeout_s=0.2)
    try:
        yield opened
    finally:
        opened.close()


def _recorder(store: Store, events: Events) -> ConversationRecorder:
    return ConversationRecorder(
        store, on_error=events.on_error, on_pending=events.on_pending, **FAST
    )


def _saved(store: Store, recorder: ConversationRecorder) -> list[tuple[str, str, str | None]]:
    assert recorder.conversation_id is not None
    return [
        (m.role, m.content, None if m.outcome is None else m.outcome.value)
        for m in store.load_conversation(recorder.conversation_id).messages
    ]


def _journal(store: Store) -> Path:
    return store.path.with_name(store.path.name + JOURNAL_SUFFIX)


def _chat_turn(recorder: ConversationRecorder, conversation: Conversation, text: str) -> None:
    """A user message, a reply that streams (one update) and ends."""
    recorder.message_added(conversation.add_user(text))
    answer = conversation.start_reply("m@p")
    recorder.message_added(answer)
    answer.content = f"re: {text} (part)"
    recorder.message_changed(answer, final=True)
    answer.content = f"re: {text}"
    answer.outcome = Outcome.COMPLETE
    recorder.message_changed(answer, final=True)


def test_writes_wait_behind_a_held_lock_in_order_and_land_when_it_goes(store: Store) -> None:
    events = Events()
    recorder = _recorder(store, events)
    conversation = Conversation()
    _chat_turn(recorder, conversation, "first")
    assert recorder.flush()
    with held_lock(store.path):
        _chat_turn(recorder, conversation, "second, sent while locked")
        wait_for(lambda: (events.last_pending or (0, None))[0] > 0)
        _count, reason = events.last_pending or (0, None)
        assert reason == "the database is locked by another process"
        assert recorder.pending >= 3  # the user message, its reply and the reply's updates
        assert not recorder.flush(timeout=0.3)  # not landed: waiting, not dropped
        # Meanwhile they are kept on disk, private, and hold what was typed.
        journal = _journal(store)
        assert journal.stat().st_mode & 0o777 == 0o600
        assert "second, sent while locked" in journal.read_text()
    assert recorder.flush(timeout=20)
    assert _saved(store, recorder) == [
        ("user", "first", None),
        ("assistant", "re: first", "complete"),
        ("user", "second, sent while locked", None),
        ("assistant", "re: second, sent while locked", "complete"),
    ]
    wait_for(lambda: events.last_pending == (0, None))  # the status bar clears
    assert events.errors == []
    assert not _journal(store).exists()  # all landed: nothing left to replay
    recorder.close()


def test_an_update_of_a_reply_whose_append_waits_lands_after_it(store: Store) -> None:
    """Message ids exist only once an append has landed: the update must find its row."""
    events = Events()
    recorder = _recorder(store, events)
    conversation = Conversation()
    with held_lock(store.path):
        _chat_turn(recorder, conversation, "all while locked")
        wait_for(lambda: recorder.waiting_reason is not None)
    assert recorder.flush(timeout=20)
    assert _saved(store, recorder) == [
        ("user", "all while locked", None),
        ("assistant", "re: all while locked", "complete"),
    ]
    assert events.errors == []
    recorder.close()


def test_a_full_database_keeps_the_turn_and_saves_it_once_there_is_room(store: Store) -> None:
    events = Events()
    recorder = _recorder(store, events)
    conversation = Conversation()
    _chat_turn(recorder, conversation, "small")
    assert recorder.flush()
    fill_up(store)
    big = "a long message " * 2_000  # needs new pages: refused with SQLITE_FULL
    recorder.message_added(conversation.add_user(big))
    wait_for(lambda: recorder.waiting_reason is not None)
    assert (recorder.waiting_reason or "").startswith("the disk holding the database is full (")
    assert not recorder.flush(timeout=0.3)
    make_room(store)
    assert recorder.flush(timeout=20)
    assert [content for _, content, _ in _saved(store, recorder)][-1] == big
    wait_for(lambda: events.last_pending == (0, None))
    assert events.errors == []
    recorder.close()


def test_quit_while_locked_keeps_the_writes_and_the_next_start_saves_them_first(
    tmp_path: Path,
) -> None:
    path = tmp_path / "conversations.db"
    store = Store.open(path, busy_timeout_s=0.2)
    events = Events()
    recorder = _recorder(store, events)
    conversation = Conversation()
    _chat_turn(recorder, conversation, "landed")
    assert recorder.flush()
    conversation_id = recorder.conversation_id
    with held_lock(path):
        _chat_turn(recorder, conversation, "kept for later")
        wait_for(lambda: recorder.waiting_reason is not None)
        left = recorder.close()  # the app quits: nothing waits for the lock
        store.close()
    assert left >= 3
    journal = path.with_name(path.name + JOURNAL_SUFFIX)
    assert recorder.journal_file == journal
    found = read_journal(journal)
    assert found is not None and found[1] == 0

    # The next start: the journal is applied before anything else, then removed.
    store = Store.open(path, busy_timeout_s=0.2)
    events = Events()
    recorder = _recorder(store, events)
    assert recorder.replayed is not None and recorder.replayed.writes >= 3
    recorder.message_added(Conversation().add_user("new session"))  # a new conversation
    assert recorder.flush(timeout=20)
    messages = store.load_conversation(conversation_id).messages  # type: ignore[arg-type]
    assert [(m.role, m.content) for m in messages] == [
        ("user", "landed"),
        ("assistant", "re: landed"),
        ("user", "kept for later"),
        ("assistant", "re: kept for later"),
    ]
    assert messages[-1].outcome is Outcome.COMPLETE
    assert recorder.conversation_id != conversation_id  # this session's own conversation
    assert _saved(store, recorder) == [("user", "new session", None)]
    assert not journal.exists()
    assert events.errors == []
    recorder.close()
    store.close()


def test_a_write_that_can_never_land_is_reported_and_later_saves_clear_it(store: Store) -> None:
    events = Events()
    recorder = _recorder(store, events)
    recorder.attach(99999, [], ())  # a conversation that does not exist: never
    assert recorder.flush()
    assert events.errors and "99999" in events.errors[0]
    assert events.pending == []  # nothing landed yet: "save failed" stays for now
    recorder.detach()
    recorder.message_added(Conversation().add_user("this one lands"))
    assert recorder.flush()
    wait_for(lambda: events.last_pending == (0, None))  # "save failed" goes from the bar
    assert _saved(store, recorder) == [("user", "this one lands", None)]
    recorder.close()


def test_a_broken_journal_line_is_skipped_and_the_rest_replayed(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    with Store.open(path, busy_timeout_s=0.2) as store:
        recorder = ConversationRecorder(store, **FAST)
        with held_lock(path):
            recorder.message_added(Conversation().add_user("kept"))
            wait_for(lambda: recorder.waiting_reason is not None)
            recorder.close()
    journal = path.with_name(path.name + JOURNAL_SUFFIX)
    with journal.open("a") as file:
        file.write('{"op": "append", "ref": 7, "role": "us')  # torn by a crash mid-write
    with Store.open(path) as store:
        recorder = ConversationRecorder(store, **FAST)
        assert recorder.replayed is not None and recorder.replayed.unreadable_lines == 1
        assert recorder.flush()
        contents = [
            m.content
            for summary in store.list_conversations()
            for m in store.load_conversation(summary.id).messages
        ]
        assert contents == ["kept"]
        recorder.close()
    assert not journal.exists()


def test_the_journal_holds_conversation_text_only(tmp_path: Path) -> None:
    """What a journal line holds is the message's text and figures, by a fixed list."""
    path = tmp_path / "conversations.db"
    with Store.open(path, busy_timeout_s=0.2) as store:
        recorder = ConversationRecorder(store, **FAST)
        with held_lock(path):
            recorder.settings_changed(system_prompt="Be brief.", api_key="sk-SECRET")
            recorder.message_added(Conversation().add_user("hello"))
            wait_for(lambda: recorder.waiting_reason is not None)
            recorder.close()
    text = path.with_name(path.name + JOURNAL_SUFFIX).read_text()
    assert "sk-SECRET" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["format"] == "unify-tui-pending-writes"
    assert [line["op"] for line in lines[1:]] == ["resume", "append"]
    # The setting waits for the conversation's row, in the writer's state.
    assert lines[1]["pending_settings"] == {"system_prompt": "Be brief."}


def test_kill_9_while_writes_wait_loses_none_of_them(tmp_path: Path) -> None:
    """Not a clean quit: the journal is kept up to date while writes wait, not only at close."""
    path = tmp_path / "conversations.db"
    Store.open(path).close()
    with held_lock(path):
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        writer = subprocess.Popen(
            [sys.executable, "-m", "tests.store.writer_process", "waiting", str(path), "5"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "kept"
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
    with Store.open(path) as store:
        recorder = ConversationRecorder(store, **FAST)
        assert recorder.replayed is not None and recorder.replayed.writes == 5
        assert recorder.flush(timeout=20)
        assert [
            m.content
            for summary in store.list_conversations()
            for m in store.load_conversation(summary.id).messages
        ] == [f"kept {index}" for index in range(5)]
        recorder.close()


def test_messages_kept_for_a_database_that_never_opened_join_an_earlier_journal(
    tmp_path: Path,
) -> None:
    from tui_chat.store.journal import keep_unsaved

    path = tmp_path / "conversations.db"
    with Store.open(path, busy_timeout_s=0.2) as store:
        recorder = ConversationRecorder(store, **FAST)
        with held_lock(path):
            recorder.message_added(Conversation().add_user("kept by the first session"))
            wait_for(lambda: recorder.waiting_reason is not None)
            recorder.close()
    second = Conversation()
    second.add_user("the second session never opened the database")
    kept = keep_unsaved(path, second.messages, "m@p")
    assert kept == _journal_of(path) and kept.stat().st_mode & 0o777 == 0o600
    with Store.open(path) as store:
        recorder = ConversationRecorder(store, **FAST)
        assert recorder.flush()
        assert sorted(
            (summary.title, [m.content for m in store.load_conversation(summary.id).messages])
            for summary in store.list_conversations()
        ) == [
            ("kept by the first session", ["kept by the first session"]),
            (
                "the second session never opened the database",
                ["the second session never opened the database"],
            ),
        ]
        recorder.close()


def _journal_of(path: Path) -> Path:
    return path.with_name(path.name + JOURNAL_SUFFIX)


# -- a real full file system ----------------------------------------------------------------


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs (root only; skipped elsewhere)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace')}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_really_full_disk_keeps_the_turn_and_saves_it_once_space_is_back(
    tiny_tmpfs: Path,
) -> None:
    path = tiny_tmpfs / "conversations.db"
    store = Store.open(path, busy_timeout_s=0.2)
    events = Events()
    recorder = _recorder(store, events)
    conversation = Conversation()
    _chat_turn(recorder, conversation, "before the disk filled")
    assert recorder.flush()
    filler = tiny_tmpfs / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:  # fill the disk to the last byte
        for size in (65536, 512, 1):
            try:
                while True:
                    os.write(descriptor, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(descriptor)
    recorder.message_added(conversation.add_user("sent on a full disk " * 400))
    wait_for(lambda: recorder.waiting_reason is not None)
    assert (recorder.waiting_reason or "").startswith("the disk holding the database is full (")
    # No room beside the database for the journal either: it went to the user's state folder.
    kept = recorder.journal_file
    assert kept is not None and kept.parent != tiny_tmpfs and kept.exists()
    filler.unlink()
    assert recorder.flush(timeout=20)
    assert _saved(store, recorder)[-1][1].startswith("sent on a full disk")
    wait_for(lambda: events.last_pending == (0, None))
    assert not kept.exists()
    assert events.errors == []
    recorder.close()
    store.close()
