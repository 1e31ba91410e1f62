"""A separate process that writes to a store, for the concurrency and crash tests.

python -m tests.store.writer_process append DB CONVERSATION_ID LABEL COUNT
    append COUNT user messages "LABEL i" to the conversation
python -m tests.store.writer_process chat DB
    forever: append a user message, print "user <i>" once it is committed, then stream a
    reply into one message with several update_message calls (until killed)
python -m tests.store.writer_process waiting DB COUNT
    through a ConversationRecorder on a database another process holds locked: add COUNT user
    messages, print "kept" once all of them wait in the journal, then sleep (until killed)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tui_chat.core.conversation import Conversation, Message, Outcome
from tui_chat.store import Store
from tui_chat.store.journal import JOURNAL_SUFFIX, Append, read_journal
from tui_chat.store.recorder import ConversationRecorder


def append(path: str, conversation_id: int, label: str, count: int) -> None:
    with Store.open(path) as store:
        for index in range(count):
            store.append_message(conversation_id, Message(role="user", content=f"{label} {index}"))


def chat(path: str) -> None:
    with Store.open(path) as store:
        conversation_id = store.create_conversation("crash test").id
        print(f"conversation {conversation_id}", flush=True)
        index = 0
        while True:
            store.append_message(conversation_id, Message(role="user", content=f"user {index}"))
            print(f"user {index}", flush=True)
            streaming = Message(role="assistant", content="", requested_endpoint="m@p")
            message_id = store.append_message(conversation_id, streaming)
            for word in range(5):
                streaming.content += f"word{word} "
                store.update_message(message_id, streaming)
            streaming.outcome = Outcome.COMPLETE
            store.update_message(message_id, streaming)
            index += 1


def waiting(path: str, count: int) -> None:
    store = Store.open(path, busy_timeout_s=0.1)
    recorder = ConversationRecorder(store, retry_first_s=0.05, retry_most_s=0.1)
    conversation = Conversation()
    for index in range(count):
        recorder.message_added(conversation.add_user(f"kept {index}"))
    journal = Path(path + JOURNAL_SUFFIX)
    while True:  # until every message is in the journal on disk
        found = read_journal(journal)
        appends = [op for op in found[0] if isinstance(op, Append)] if found else []
        if len(appends) == count:
            break
        time.sleep(0.02)
    print("kept", flush=True)
    time.sleep(3600)


def main(argv: list[str]) -> None:
    if argv[0] == "append":
        append(argv[1], int(argv[2]), argv[3], int(argv[4]))
    elif argv[0] == "chat":
        chat(argv[1])
    elif argv[0] == "waiting":
        waiting(argv[1], int(argv[2]))
    else:
        raise SystemExit(f"unknown mode {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
