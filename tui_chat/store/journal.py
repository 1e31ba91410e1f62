"""The writes a recorder still holds, as plain data, and the journal file that keeps them.

A write the database refused for a passing reason (locked, disk full, an I/O error) waits in the
``ConversationRecorder`` and is tried again. While writes wait they are also kept in a small
journal file beside the database (``conversations.db.pending``: JSON lines, mode 0600), so a
quit, a crash or a kill loses none of them: the next start applies the journal before anything
else is written, then removes it.

Every write is one ``Op``. Messages are named by a *ref*, a number the recorder gives each
message when it is first added, because a message's id in the database exists only once its
append has landed; the ``WriterState`` maps refs to ids. The journal's first line names the
format; then one line per op, the first a ``Resume`` (the writer's state before the waiting
writes: only the refs they name). Only conversation text, figures and settings are written: no
key or other secret is held by any of them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import platformdirs

from tui_chat.core.conversation import Message, Outcome

log = logging.getLogger(__name__)

JOURNAL_FORMAT = "unify-tui-pending-writes"
JOURNAL_VERSION = 1
JOURNAL_SUFFIX = ".pending"

# The settings a conversation row holds (the only keys a Settings op may carry).
SETTING_NAMES = frozenset(
    {"model", "system_prompt", "temperature", "max_tokens", "spend_cap", "archived"}
)
_MESSAGE_FIELDS = (
    "content",
    "created_at",
    "requested_endpoint",
    "served_endpoint",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "cost_estimated",
    "tokens_estimated",
    "ttft_ms",
    "duration_ms",
    "error",
    "gateway",
    "billed_cost",
    "routing_note",
)


@dataclass
class WriterState:
    """What the writer knows between writes: the conversation written to and message ids."""

    conversation_id: int | None = None
    ids: dict[int, int] = field(default_factory=dict)  # message ref -> message id in the store
    # Settings given before the conversation has a row, used when its first message makes one.
    pending_settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Resume:
    """Take up this state (no write): the writer's state before the writes after it."""

    conversation_id: int | None
    ids: dict[int, int]
    pending_settings: dict[str, Any]


@dataclass(frozen=True)
class Attach:
    """Write to this conversation from now on (None: the next message starts a new one)."""

    conversation_id: int | None
    ids: dict[int, int]  # ref -> message id, for the loaded messages


# Append.parent for a first message (refs start at 1).
ROOT = 0


@dataclass(frozen=True)
class Append:
    """A new message (the conversation row is made on the first one).

    ``parent`` is the ref of the message it follows, ``ROOT`` for a first message, None for
    "after the last message saved" (journals written before branches had no parent)."""

    ref: int
    message: Message
    model: str | None
    parent: int | None = None
    shown_rank: int = 0


@dataclass(frozen=True)
class Update:
    """A saved message's new text and figures (a streaming reply's progress or its end)."""

    ref: int
    message: Message


@dataclass(frozen=True)
class Delete:
    ref: int


@dataclass(frozen=True)
class Settings:
    settings: dict[str, Any]


@dataclass(frozen=True)
class Shown:
    """A change of branch: each message's (by ref) new shown rank."""

    ranks: dict[int, int]


Op = Resume | Attach | Append | Update | Delete | Settings | Shown


def journal_paths(database: Path) -> tuple[Path, Path]:
    """Where the journal of ``database`` goes: beside it, else (that folder full or read-only)
    in the user's state folder, under a name made from the database's path."""
    beside = database.with_name(database.name + JOURNAL_SUFFIX)
    digest = hashlib.sha256(str(database.resolve()).encode("utf-8", "replace")).hexdigest()[:16]
    fallback = (
        Path(platformdirs.user_state_dir("unify-tui"))
        / "pending"
        / f"{database.name}-{digest}{JOURNAL_SUFFIX}"
    )
    return beside, fallback


def _message_document(message: Message) -> dict[str, Any]:
    document: dict[str, Any] = {"role": message.role}
    document.update({name: getattr(message, name) for name in _MESSAGE_FIELDS})
    document["outcome"] = None if message.outcome is None else Outcome(message.outcome).value
    return document


def _message_from_document(document: dict[str, Any]) -> Message:
    outcome = document.get("outcome")
    role = document["role"]
    if role not in ("system", "user", "assistant"):
        raise ValueError(f"unknown role {role!r}")
    values: dict[str, Any] = {name: document.get(name) for name in _MESSAGE_FIELDS}
    values["content"] = str(values["content"] or "")
    values["cost_estimated"] = bool(values["cost_estimated"])
    values["tokens_estimated"] = bool(values["tokens_estimated"])
    return Message(role=role, outcome=None if outcome is None else Outcome(outcome), **values)


def op_document(op: Op) -> dict[str, Any]:
    """One journal line's JSON object for ``op``."""
    match op:
        case Resume(conversation_id=conversation_id, ids=ids, pending_settings=settings):
            return {
                "op": "resume",
                "conversation_id": conversation_id,
                "ids": _pairs(ids),
                "pending_settings": _known_settings(settings),
            }
        case Attach(conversation_id=conversation_id, ids=ids):
            return {"op": "attach", "conversation_id": conversation_id, "ids": _pairs(ids)}
        case Append(ref=ref, message=message, model=model, parent=parent, shown_rank=rank):
            document = {"op": "append", "ref": ref, "model": model, **_message_document(message)}
            return {**document, "parent": parent, "shown_rank": rank}
        case Shown(ranks=ranks):
            return {"op": "shown", "ranks": _pairs(ranks)}
        case Update(ref=ref, message=message):
            return {"op": "update", "ref": ref, **_message_document(message)}
        case Delete(ref=ref):
            return {"op": "delete", "ref": ref}
        case Settings(settings=settings):
            return {"op": "settings", "settings": _known_settings(settings)}
    raise TypeError(f"not a journal op: {op!r}")


def op_from_document(document: dict[str, Any]) -> Op:
    """The op a journal line holds; raises ``ValueError``/``KeyError``/``TypeError`` if bad."""
    kind = document["op"]
    if kind == "resume":
        conversation_id = document["conversation_id"]
        settings = cast(dict[str, Any], document.get("pending_settings") or {})
        return Resume(
            None if conversation_id is None else int(conversation_id),
            _ids(document.get("ids", [])),
            _known_settings(settings),
        )
    if kind == "attach":
        conversation_id = document["conversation_id"]
        return Attach(
            None if conversation_id is None else int(conversation_id),
            _ids(document.get("ids", [])),
        )
    if kind == "append":
        model = document.get("model")
        parent = document.get("parent")
        return Append(
            int(document["ref"]),
            _message_from_document(document),
            None if model is None else str(model),
            None if parent is None else int(parent),
            int(document.get("shown_rank") or 0),
        )
    if kind == "shown":
        return Shown(_ids(document.get("ranks", [])))
    if kind == "update":
        return Update(int(document["ref"]), _message_from_document(document))
    if kind == "delete":
        return Delete(int(document["ref"]))
    if kind == "settings":
        settings = cast(dict[str, Any], document["settings"])
        return Settings(_known_settings(settings))
    raise ValueError(f"unknown op {kind!r}")


def referenced_refs(ops: list[Op]) -> set[int]:
    refs = {op.ref for op in ops if isinstance(op, Append | Update | Delete)}
    refs |= {op.parent for op in ops if isinstance(op, Append) and op.parent}
    for op in ops:
        if isinstance(op, Shown):
            refs |= set(op.ranks)
    return refs


def write_journal(path: Path, ops: list[Op]) -> None:
    """Replace the journal at ``path`` by ``ops`` (atomically, mode 0600, fsync'd).

    Raises ``OSError`` (a full disk, a read-only folder).
    """
    header = {"format": JOURNAL_FORMAT, "version": JOURNAL_VERSION}
    lines = [json.dumps(header)]
    lines += [json.dumps(op_document(op)) for op in ops]  # ASCII: any text survives as escapes
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), 0o600)
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            temporary.unlink()
        except OSError:
            pass
        raise


def read_journal(path: Path) -> tuple[list[Op], int] | None:
    """The ops a journal holds, and how many lines could not be read (skipped); None if there
    is no journal or its first line is not one. Never raises for bad content."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as error:
        log.warning("could not read the journal %s: %s", path, error)
        return None
    lines = text.splitlines()
    try:
        header = json.loads(lines[0]) if lines else None
    except ValueError:
        return None
    if not isinstance(header, dict) or header.get("format") != JOURNAL_FORMAT:
        return None
    ops: list[Op] = []
    skipped = 0
    for line in lines[1:]:
        if not line.strip():
            continue
        try:
            document = json.loads(line)
            if not isinstance(document, dict):
                raise TypeError("not an object")
            ops.append(op_from_document(document))
        except (ValueError, TypeError, KeyError) as error:
            skipped += 1  # a torn last line, or text changed by hand: the rest still counts
            log.warning("skipped a journal line of %s: %s", path, error)
    return ops, skipped


def _known_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Only the named settings a conversation row holds: nothing else reaches the file."""
    return {name: value for name, value in settings.items() if name in SETTING_NAMES}


def _pairs(ids: dict[int, int]) -> list[list[int]]:
    return [[ref, message_id] for ref, message_id in ids.items()]


def _ids(pairs: Any) -> dict[int, int]:
    return {int(ref): int(message_id) for ref, message_id in pairs}


def keep_unsaved(
    database: Path,
    messages: list[Message],
    model: str | None,
    tree: list[tuple[int | None, int]] | None = None,
) -> Path:
    """Keep ``messages`` of a session whose database never opened (locked until the quit) in
    its journal, after any writes already there, as a new conversation; the path written.

    ``tree[i]`` is ``(index of messages[i]'s parent in messages, or None, its shown rank)``
    (every branch); without it each message follows the one before. Raises ``OSError`` if
    neither journal place can be written.
    """
    problems: list[str] = []
    for path in journal_paths(database):
        found = read_journal(path)
        earlier = found[0] if found is not None else []
        first_ref = max(referenced_refs(earlier), default=0) + 1
        ops: list[Op] = [*earlier, Resume(None, {}, {})]
        for index, message in enumerate(messages):
            if tree is None:
                ops.append(Append(first_ref + index, message, model))
                continue
            parent, rank = tree[index]
            parent_ref = ROOT if parent is None else first_ref + parent
            ops.append(Append(first_ref + index, message, model, parent_ref, rank))
        try:
            write_journal(path, ops)
        except OSError as error:
            problems.append(f"{path}: {error.strerror or error}")
            continue
        return path
    raise OSError("; ".join(problems))
