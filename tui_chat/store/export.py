"""Exporting a conversation to Markdown (to read) and JSON (to process).

Every turn carries its provenance: the endpoint requested and the one that served it, tokens,
cost, time to first token and duration. Fields are copied by name from a fixed list, never by
dumping objects, so nothing that is not listed here (such as a key on some future object) can
reach an export. No field of a conversation holds a secret: keys live in the gateway settings.

An export is read with ``cat`` as often as with an editor, so neither may hold a raw escape
sequence a terminal would run: the Markdown shows every control character as the chat log does
(``core.text.inert``: ESC as ``␛``), the JSON keeps the text exact, every control character
written as a JSON escape (ESC as backslash-u-001b). Files are written 0600 and a folder the
export creates 0700, like the database.
"""

from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Literal

import platformdirs

from tui_chat.core.conversation import Conversation, Message, Outcome
from tui_chat.core.text import inert
from tui_chat.store.records import ConversationRecord
from tui_chat.store.text import encodable

EXPORT_FORMAT = "unify-tui-conversation"
EXPORT_FORMAT_VERSION = 1

_ROLE_HEADINGS = {"user": "You", "assistant": "Assistant", "system": "System"}
_BACKTICKS = re.compile("`+")
_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
# json.dumps escapes C0 controls but leaves DEL and the C1 controls (0x9b is CSI) raw.
_JSON_RAW_CONTROLS = re.compile("[\x7f-\x9f]")

ExportKind = Literal["markdown", "json"]


class ExportError(Exception):
    """An export could not be written: ``folder`` and ``path`` it was meant for, and why."""

    def __init__(self, folder: Path, path: Path, reason: str) -> None:
        super().__init__(reason)
        self.folder = folder
        self.path = path
        self.reason = reason


def default_export_dir() -> Path:
    """Where exports go unless told otherwise: ``~/Documents/unify-tui``."""
    return Path(platformdirs.user_documents_dir()) / "unify-tui"


def export_file_name(title: str, suffix: str, now: float) -> str:
    """``<title as a safe slug>-<YYYYmmdd-HHMMSS><suffix>``, in local time (``now``: Unix s)."""
    slug = _UNSAFE_FILE_CHARS.sub("-", title).strip("-.")[:40] or "conversation"
    return f"{slug}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}{suffix}"


def export_folder_problem(folder: Path, error: OSError) -> str:
    """Why ``folder`` could not take an export, in words. It looks at the disk (which of the
    folder and its parents is a file), so call it where blocking is fine."""
    try:
        # A file where the folder (or one of its parents) should be: say which one.
        for place in (folder, *folder.parents):
            if place.exists():
                if not place.is_dir():
                    return f"{place} is a file, not a folder"
                break
    except OSError:
        pass
    return error.strerror or str(error)


def write_export(
    conversation: Conversation,
    title: str,
    kind: ExportKind,
    folder: Path,
    *,
    record: ConversationRecord | None = None,
    now: float | None = None,
    alternates: bool = False,
) -> Path:
    """Write the conversation as Markdown or JSON into ``folder`` (created if missing) under
    ``export_file_name``; the path written. The branch on screen, or with ``alternates`` every
    message of every branch. Blocking (disk). Raises ``ExportError``."""
    now = time.time() if now is None else now
    if kind == "json":
        text = to_json(conversation, title, record=record, exported_at=now, alternates=alternates)
        suffix = ".json"
    else:
        text = to_markdown(
            conversation, title, record=record, exported_at=now, alternates=alternates
        )
        suffix = ".md"
    path = folder / export_file_name(title, suffix, now)
    try:
        make_private_folder(folder)  # created at the first export
        write_private(path, text)
    except OSError as error:
        raise ExportError(folder, path, export_folder_problem(folder, error)) from error
    return path


def make_private_folder(folder: Path) -> None:
    """Create ``folder`` and any missing parents 0700; folders already there are left alone."""
    missing = [place for place in (folder, *folder.parents) if not place.exists()]
    for place in reversed(missing):
        try:
            place.mkdir(mode=0o700)
        except FileExistsError:
            pass  # made meanwhile by someone else: theirs, left as it is
    if not folder.is_dir():
        raise NotADirectoryError(20, "Not a directory", str(folder))


def write_private(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``, readable by its owner only (0600)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as file:
        os.fchmod(file.fileno(), 0o600)  # a file of that name made earlier keeps no wider mode
        file.write(text)


def to_markdown(
    conversation: Conversation,
    title: str,
    *,
    record: ConversationRecord | None = None,
    exported_at: float | None = None,
    tz: tzinfo | None = None,
    alternates: bool = False,
) -> str:
    """The conversation as a Markdown document, one section per message.

    ``record`` adds the conversation's model and settings; ``exported_at`` (Unix seconds, default
    now) and ``tz`` (default local time) set the times shown. Message text is copied as is,
    but for control characters (escape sequences), which are shown as the chat log shows them.
    The branch on screen; with ``alternates`` every message of every branch, depth first, each
    alternate's heading saying which of how many it is and whether it is on screen.
    """
    exported = _local_time(time.time() if exported_at is None else exported_at, tz)
    lines = [f"# {_one_line(title) or 'Untitled conversation'}", ""]
    shown = conversation.all_messages() if alternates else conversation.messages
    on_screen = {id(message) for message in conversation.messages}
    facts = [
        f"Exported from unify-tui on {exported:%Y-%m-%d %H:%M %Z}".rstrip(),
        f"{len(shown)} messages" + (" (every alternate)" if alternates else ""),
        f"total cost {_total(conversation)}",
    ]
    lines += ["*" + " · ".join(facts) + "*", ""]
    if record is not None:
        lines += [f"- {name}: {value}" for name, value in _settings_lines(record)]
        lines.append("")
    if conversation.system_prompt:
        lines += ["**System prompt:**", ""]
        lines += [f"> {line}".rstrip() for line in conversation.system_prompt.splitlines()]
        lines.append("")
    for message in shown:
        heading = _message_heading(message, tz)
        number, count = conversation.alternate_position(message)
        if alternates and count > 1:
            where = "on screen" if id(message) in on_screen else "not on screen"
            depth = conversation.branch_point(message)
            heading += f" · alternate {number}/{count} at message {depth + 1} ({where})"
        lines += ["---", "", heading, "", message.content, ""]
        details = _message_details(message)
        if details:
            lines += ["*" + " · ".join(details) + "*", ""]
        if message.outcome is Outcome.STOPPED:
            lines += ["*Stopped before the reply was complete.*", ""]
        elif message.outcome in (Outcome.CUT, Outcome.LENGTH, Outcome.FILTERED):
            lines += [f"*Incomplete: {message.outcome.words}.*", ""]
        elif message.outcome is Outcome.ERROR:
            lines += [f"> **Error:** {_one_line(message.error or 'the reply failed')}", ""]
    return inert(encodable("\n".join(lines).rstrip("\n") + "\n"))


def to_json(
    conversation: Conversation,
    title: str,
    *,
    record: ConversationRecord | None = None,
    exported_at: float | None = None,
    alternates: bool = False,
) -> str:
    """The conversation as a JSON document (UTF-8 text, indented); times in Unix seconds.

    ``record`` adds the conversation's id, model and settings. ``messages`` is the branch on
    screen; with ``alternates`` a ``tree`` lists every message of every branch, each with an
    ``index``, its ``parent``'s index (null: a first message), its ``alternate`` number and
    ``alternates`` count, and whether it is ``on_screen``.
    """
    document: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "exported_at": time.time() if exported_at is None else exported_at,
        "title": title,
        "system_prompt": conversation.system_prompt,
        "total_cost": conversation.spend.amount,  # null: unknown (replies came, no figures)
        "total_cost_estimated": conversation.spend.estimated,
        "total_cost_partial": conversation.spend.partial,  # some replies' cost is unknown
    }
    if record is not None:
        document["conversation"] = {
            "id": record.id,
            "created_at": record.created_at,
            "updated_at": record.updated_at,
            "model": record.model,
            "temperature": record.temperature,
            "max_tokens": record.max_tokens,
            "spend_cap": record.spend_cap,
            "archived": record.archived,
        }
    document["messages"] = [_message_document(message) for message in conversation.messages]
    if alternates:
        every = conversation.all_messages()
        index = {id(message): number for number, message in enumerate(every)}
        on_screen = {id(message) for message in conversation.messages}
        tree = []
        for message in every:
            parent = conversation.parent_of(message)
            number, count = conversation.alternate_position(message)
            tree.append(
                {
                    "index": index[id(message)],
                    "parent": None if parent is None else index[id(parent)],
                    "alternate": number,
                    "alternates": count,
                    "on_screen": id(message) in on_screen,
                    **_message_document(message),
                }
            )
        document["tree"] = tree
    text = encodable(json.dumps(document, ensure_ascii=False, indent=2))
    # Outside strings a JSON document is ASCII, so every such character is inside one.
    return _JSON_RAW_CONTROLS.sub(lambda match: f"\\u{ord(match.group()):04x}", text) + "\n"


def _message_document(message: Message) -> dict[str, Any]:
    return {
        "role": message.role,
        "content": message.content,
        "created_at": message.created_at,
        "requested_endpoint": message.requested_endpoint,
        "served_endpoint": message.served_endpoint,
        "prompt_tokens": message.prompt_tokens,
        "completion_tokens": message.completion_tokens,
        "cost": message.cost,
        "cost_estimated": message.cost_estimated,
        "tokens_estimated": message.tokens_estimated,
        "ttft_ms": message.ttft_ms,
        "duration_ms": message.duration_ms,
        "outcome": None if message.outcome is None else message.outcome.value,
        "error": message.error,
    }


def _settings_lines(record: ConversationRecord) -> list[tuple[str, str]]:
    settings: list[tuple[str, str]] = []
    if record.model:
        settings.append(("Model", _code(record.model)))
    if record.temperature is not None:
        settings.append(("Temperature", f"{record.temperature:g}"))
    if record.max_tokens is not None:
        settings.append(("Max tokens", str(record.max_tokens)))
    if record.spend_cap is not None:
        settings.append(("Spend cap", _credits(record.spend_cap)))
    return settings


def _message_heading(message: Message, tz: tzinfo | None) -> str:
    when = _local_time(message.created_at, tz)
    return f"### {_ROLE_HEADINGS.get(message.role, message.role)} · {when:%Y-%m-%d %H:%M:%S}"


def _message_details(message: Message) -> list[str]:
    """The provenance line of a reply: endpoints, tokens, cost, timings."""
    details: list[str] = []
    if message.served_endpoint:
        details.append(f"served by {_code(message.served_endpoint)}")
    if message.requested_endpoint and message.requested_endpoint != message.served_endpoint:
        details.append(f"requested {_code(message.requested_endpoint)}")
    if message.prompt_tokens is not None or message.completion_tokens is not None:
        prompt = "?" if message.prompt_tokens is None else f"{message.prompt_tokens:,}"
        completion = "?" if message.completion_tokens is None else f"{message.completion_tokens:,}"
        if message.tokens_estimated and message.completion_tokens is not None:
            completion = f"~{completion}"  # counted from the text: no usage was reported
        details.append(f"{prompt} prompt + {completion} completion tokens")
    if message.cost is not None:
        estimate = " (estimated)" if message.cost_estimated else ""
        details.append(f"{_credits(message.cost)}{estimate}")
    if message.ttft_ms is not None:
        details.append(f"first token {message.ttft_ms:,.0f} ms")
    if message.duration_ms is not None:
        details.append(f"{message.duration_ms / 1000:,.1f} s")
    return details


def _total(conversation: Conversation) -> str:
    """The total as the status bar says it: marked "(estimated)" or "at least", or unknown."""
    spend = conversation.spend
    if spend.amount is None:
        return "unknown"
    if spend.partial:
        return f"at least {_credits(spend.amount)}"
    return _credits(spend.amount) + (" (estimated)" if spend.estimated else "")


def _credits(cost: float) -> str:
    """Credits (USD) to six decimals, trailing zeros trimmed to cents: $0.000123, $1.50."""
    whole, _, fraction = f"{cost:,.6f}".partition(".")
    fraction = fraction.rstrip("0").ljust(2, "0")
    return f"${whole}.{fraction}"


def _code(text: str) -> str:
    """``text`` as inline code, fenced with more backticks than it contains."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if longest else ""
    return f"{fence}{padding}{_one_line(text)}{padding}{fence}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _local_time(timestamp: float, tz: tzinfo | None) -> datetime:
    moment = datetime.fromtimestamp(timestamp, tz)
    return moment if tz is not None else moment.astimezone()
