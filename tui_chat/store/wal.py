"""Checking the write-ahead log (``-wal``) against its own checksums, as SQLite's recovery does.

Every frame of a WAL carries a checksum that chains on from the frame before, so a byte changed
by another program breaks the chain there. SQLite checks the chain only when it rebuilds its
index of the log (the first connection after the last one closed); while a database is open it
trusts the index in ``-shm`` and reads whatever is now in those frames, and a clean close copies
them into the database file (a checkpoint). So garbage written into the live log goes unnoticed
and becomes damage in the main file at the next clean quit.

``log_damage`` walks the chain (the format is SQLite's documented one) and compares where it
breaks with how far the open connections' index says the log goes (``mxFrame`` in ``-shm``). If
it breaks first, the store is closed without a checkpoint (``Store.close``): the log then stays,
and the next start's recovery keeps everything committed before the garbage and drops the rest.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

_MAGIC_LITTLE = 0x377F0682  # checksums over little-endian words
_MAGIC_BIG = 0x377F0683  # over big-endian words
_HEADER = 32
_FRAME_HEADER = 24
_MASK = 0xFFFFFFFF


@dataclass(frozen=True)
class LogDamage:
    """The log breaks its chain at frame ``first_bad`` (1-based) though ``indexed`` are in use."""

    first_bad: int
    indexed: int
    last_good_commit: int  # frames up to here are kept by SQLite's recovery

    def __str__(self) -> str:
        return (
            f"frame {self.first_bad} of the {self.indexed} in use does not match its checksum "
            f"(changed by another program?); what was committed up to frame "
            f"{self.last_good_commit} is sound"
        )


def _checksum(data: bytes, big_endian: bool, s0: int, s1: int) -> tuple[int, int]:
    words = struct.unpack(f"{'>' if big_endian else '<'}{len(data) // 4}I", data)
    for index in range(0, len(words), 2):
        s0 = (s0 + words[index] + s1) & _MASK
        s1 = (s1 + words[index + 1] + s0) & _MASK
    return s0, s1


def valid_frames(wal: bytes) -> tuple[int, int]:
    """How many frames of ``wal`` (its bytes) form an unbroken checksum chain from the header,
    and the number of the last of them that ends a transaction (a commit); (0, 0) if the header
    itself is not sound."""
    if len(wal) < _HEADER:
        return 0, 0
    magic, _version, page_size, _sequence, salt1, salt2, sum1, sum2 = struct.unpack(
        ">8I", wal[:_HEADER]
    )
    if magic not in (_MAGIC_LITTLE, _MAGIC_BIG) or page_size < 512 or page_size & (page_size - 1):
        return 0, 0
    big_endian = magic == _MAGIC_BIG
    s0, s1 = _checksum(wal[:24], big_endian, 0, 0)
    if (s0, s1) != (sum1, sum2):
        return 0, 0
    frame_size = _FRAME_HEADER + page_size
    frames = last_commit = 0
    offset = _HEADER
    while offset + frame_size <= len(wal):
        header = wal[offset : offset + _FRAME_HEADER]
        _page, commit_size, frame_salt1, frame_salt2, check1, check2 = struct.unpack(">6I", header)
        if (frame_salt1, frame_salt2) != (salt1, salt2):
            break  # a frame of an earlier generation of the log: the live part ends here
        s0, s1 = _checksum(header[:8], big_endian, s0, s1)
        s0, s1 = _checksum(wal[offset + _FRAME_HEADER : offset + frame_size], big_endian, s0, s1)
        if (s0, s1) != (check1, check2):
            break
        frames += 1
        if commit_size:
            last_commit = frames
        offset += frame_size
    return frames, last_commit


def indexed_frames(shm: Path) -> int | None:
    """How many frames of the log the open connections use (``mxFrame`` of the wal-index header
    in ``-shm``, in this machine's byte order), or None if there is no readable index."""
    try:
        with shm.open("rb") as file:
            header = file.read(96)
    except OSError:
        return None
    if len(header) < 96 or header[:48] != header[48:96]:
        return None  # being written, or not an index: nothing to compare with
    (max_frame,) = struct.unpack("=I", header[16:20])
    return int(max_frame)


def log_damage(database: Path) -> LogDamage | None:
    """Whether the live log of ``database`` holds frames in use that fail their checksum."""
    wal = database.with_name(database.name + "-wal")
    indexed = indexed_frames(database.with_name(database.name + "-shm"))
    if not indexed:
        return None
    try:
        data = wal.read_bytes()
    except OSError:
        return None
    frames, last_commit = valid_frames(data)
    if frames >= indexed:
        return None
    return LogDamage(first_bad=frames + 1, indexed=indexed, last_good_commit=last_commit)
