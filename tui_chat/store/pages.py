"""The last resort of a recovery: reading rows straight off the file's pages, without SQLite.

When SQLite cannot reach a table at all (its root page, or the schema on page 1, is damaged),
``salvage`` reads the file itself: every page that is a table leaf (b-tree page type 0x0D) and
not on the free list, each cell's record decoded by the documented file format (varints, serial
types, overflow chains), and kept if it has the shape of a ``messages`` or ``conversations``
row. Pages of the ``-wal`` are not read: a page SQLite could not reach through the log is read
from the main file as it was at the last checkpoint.

A freed page can still hold rows deleted since (the store sets ``secure_delete`` so that new
deletions are zeroed); pages on the free list are skipped for that reason, and the reader is
used only for a table SQLite could not read at all.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_HEADER = b"SQLite format 3\x00"
_TABLE_LEAF = 0x0D
_ROLES = frozenset({"system", "user", "assistant"})

# Column order of each table as every schema version wrote it: later columns are appended by
# ALTER TABLE ... ADD COLUMN, so an older row simply has fewer values. The caller passes the
# fresh database's own columns (``PRAGMA table_info``), which extend these.
MESSAGE_COLUMNS = (
    "id",
    "conversation_id",
    "position",
    "role",
    "content",
    "created_at",
    "requested_endpoint",
    "served_endpoint",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "ttft_ms",
    "duration_ms",
    "outcome",
    "error",
    "cost_estimated",
    "tokens_estimated",
)
CONVERSATION_COLUMNS = (
    "id",
    "title",
    "created_at",
    "updated_at",
    "model",
    "system_prompt",
    "temperature",
    "max_tokens",
    "spend_cap",
    "archived",
    "opened_at",
)


@dataclass
class PageRows:
    """Rows found on the pages, by rowid: each a dict of column name to value."""

    conversations: dict[int, dict[str, Any]] = field(default_factory=dict)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)


class _Bad(Exception):
    """A cell or record that does not decode: skipped."""


def _varint(data: bytes, offset: int) -> tuple[int, int]:
    value = 0
    for index in range(9):
        if offset + index >= len(data):
            raise _Bad("varint past the end")
        byte = data[offset + index]
        if index == 8:
            return (value << 8) | byte, offset + 9
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, offset + index + 1
    raise _Bad("unreachable")


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _decode_record(payload: bytes) -> list[Any]:
    header_size, offset = _varint(payload, 0)
    if header_size < 1 or header_size > len(payload):
        raise _Bad("record header size")
    types = []
    while offset < header_size:
        serial, offset = _varint(payload, offset)
        types.append(serial)
    values: list[Any] = []
    body = header_size
    for serial in types:
        if serial == 0:
            values.append(None)
        elif 1 <= serial <= 6:
            size = (0, 1, 2, 3, 4, 6, 8)[serial]
            chunk = payload[body : body + size]
            if len(chunk) != size:
                raise _Bad("integer past the end")
            values.append(int.from_bytes(chunk, "big", signed=True))
            body += size
        elif serial == 7:
            chunk = payload[body : body + 8]
            if len(chunk) != 8:
                raise _Bad("float past the end")
            values.append(struct.unpack(">d", chunk)[0])
            body += 8
        elif serial in (8, 9):
            values.append(serial - 8)
        elif serial >= 12:
            size = (serial - 12) // 2
            chunk = payload[body : body + size]
            if len(chunk) != size:
                raise _Bad("text past the end")
            if serial % 2:
                try:
                    values.append(chunk.decode("utf-8"))
                except UnicodeDecodeError as error:
                    raise _Bad("text is not UTF-8") from error
            else:
                values.append(chunk)
            body += size
        else:
            raise _Bad(f"serial type {serial}")
    return values


class _File:
    def __init__(self, data: bytes) -> None:
        self.data = data
        sound_header = data[:16] == _HEADER and len(data) >= 100
        size = struct.unpack(">H", data[16:18])[0] if sound_header else 4096
        self.page_size = 65536 if size == 1 else size
        if self.page_size < 512 or self.page_size & (self.page_size - 1):
            self.page_size = 4096
        self.usable = self.page_size - (data[20] if sound_header else 0)
        self.pages = len(data) // self.page_size
        self.free = self._free_pages() if sound_header else set()

    def page(self, number: int) -> bytes:
        if not 1 <= number <= self.pages:
            raise _Bad(f"page {number} is outside the file")
        start = (number - 1) * self.page_size
        return self.data[start : start + self.page_size]

    def _free_pages(self) -> set[int]:
        free: set[int] = set()
        trunk = struct.unpack(">I", self.data[32:36])[0]
        try:
            while trunk and trunk not in free:
                page = self.page(trunk)
                free.add(trunk)
                count = struct.unpack(">I", page[4:8])[0]
                if count > (self.usable - 8) // 4:
                    break  # a damaged trunk: what it lists cannot be trusted
                free.update(struct.unpack(f">{count}I", page[8 : 8 + 4 * count]))
                trunk = struct.unpack(">I", page[:4])[0]
        except _Bad:
            pass
        return free

    def cells(self, number: int) -> list[tuple[int, bytes]]:
        """(rowid, payload) of each cell of table leaf page ``number``."""
        page = self.page(number)
        header = 100 if number == 1 else 0
        count = struct.unpack(">H", page[header + 3 : header + 5])[0]
        found = []
        for index in range(count):
            pointer_at = header + 8 + 2 * index
            if pointer_at + 2 > len(page):
                break
            pointer = struct.unpack(">H", page[pointer_at : pointer_at + 2])[0]
            try:
                found.append(self._cell(page, pointer))
            except (_Bad, struct.error):
                continue
        return found

    def _cell(self, page: bytes, pointer: int) -> tuple[int, bytes]:
        if not 8 <= pointer < len(page):
            raise _Bad("cell pointer")
        size, offset = _varint(page, pointer)
        rowid, offset = _varint(page, offset)
        most_local = self.usable - 35
        if size <= most_local:
            local = size
        else:
            least_local = ((self.usable - 12) * 32 // 255) - 23
            local = least_local + (size - least_local) % (self.usable - 4)
            if local > most_local:
                local = least_local
        payload = bytearray(page[offset : offset + local])
        if len(payload) != local:
            raise _Bad("payload past the page")
        if local < size:
            next_page = struct.unpack(">I", page[offset + local : offset + local + 4])[0]
            seen: set[int] = set()
            while len(payload) < size:
                if not next_page or next_page in seen:
                    raise _Bad("overflow chain broken")
                seen.add(next_page)
                overflow = self.page(next_page)
                next_page = struct.unpack(">I", overflow[:4])[0]
                payload += overflow[4 : self.usable][: size - len(payload)]
        return _signed(rowid), bytes(payload)


def _as_message(rowid: int, values: list[Any], columns: tuple[str, ...]) -> dict[str, Any] | None:
    if not 15 <= len(values) <= len(columns) or values[0] is not None:
        return None
    row = dict(zip(columns, values, strict=False))
    if not isinstance(row["conversation_id"], int) or not isinstance(row["position"], int):
        return None
    if row["role"] not in _ROLES or not isinstance(row["content"], str):
        return None
    if not isinstance(row["created_at"], int | float):
        return None
    row["id"] = rowid
    return row


def _as_conversation(
    rowid: int, values: list[Any], columns: tuple[str, ...]
) -> dict[str, Any] | None:
    if not 9 <= len(values) <= len(columns) or values[0] is not None:
        return None
    row = dict(zip(columns, values, strict=False))
    if not isinstance(row["title"], str):
        return None
    if not all(isinstance(row[name], int | float) for name in ("created_at", "updated_at")):
        return None
    if row.get("archived", 0) not in (0, 1):
        return None
    row["id"] = rowid
    return row


def _better_message(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Two copies of one message (an older one on a page not yet reused): the finished, longer."""
    return (new["outcome"] is not None, len(new["content"])) > (
        old["outcome"] is not None,
        len(old["content"]),
    )


def scan_pages(
    path: Path,
    *,
    message_columns: tuple[str, ...] = MESSAGE_COLUMNS,
    conversation_columns: tuple[str, ...] = CONVERSATION_COLUMNS,
) -> PageRows:
    """Every conversation and message row on the table leaf pages of ``path``, not on its free
    list. ``*_columns``: each table's columns in order (the current schema's)."""
    found = PageRows()
    try:
        data = path.read_bytes()
    except OSError as error:
        log.warning("cannot read %s: %s", path, error)
        return found
    file = _File(data)
    for number in range(1, file.pages + 1):
        if number in file.free:
            continue
        page = file.page(number)
        if page[100 if number == 1 else 0] != _TABLE_LEAF:
            continue
        for rowid, payload in file.cells(number):
            try:
                values = _decode_record(payload)
            except _Bad:
                continue
            message = _as_message(rowid, values, message_columns)
            if message is not None:
                old = found.messages.get(rowid)
                if old is None or _better_message(old, message):
                    found.messages[rowid] = message
                continue
            conversation = _as_conversation(rowid, values, conversation_columns)
            if conversation is not None:
                old = found.conversations.get(rowid)
                if old is None or conversation["updated_at"] > old["updated_at"]:
                    found.conversations[rowid] = conversation
    return found
