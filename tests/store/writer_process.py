"""A separate process that writes to a store, for the concurrency and crash tests.

python -m tests.store.writer_process append DB CONVERSATION_ID LABEL COUNT
    append COUNT user messages "LABEL i" to the conversation
python -m tests.store.writer_process chat DB
    forever: append a user message, print "user <i>" once it is committed, then stream a
    reply into one message with several update_message calls (until killed)
"""

from __future__ import annotations

import sys

from tui_chat.core.conversation import Message, Outcome
from tui_chat.store import Store


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


def main(argv: list[str]) -> None:
    if argv[0] == "append":
        append(argv[1], int(argv[2]), argv[3], int(argv[4]))
    elif argv[0] == "chat":
        chat(argv[1])
    else:
        raise SystemExit(f"unknown mode {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
