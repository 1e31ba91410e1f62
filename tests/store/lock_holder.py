"""Another process holding a database locked, as a second program (or a backup tool) might.

python -m tests.store.lock_holder DB [--no-readers]
    opens DB with the plain sqlite3 module, takes ``BEGIN EXCLUSIVE``, prints "locked", and
    holds the lock until a line arrives on stdin (or stdin closes); then commits and exits.
    In WAL mode that lock stops writers only; ``--no-readers`` first sets
    ``PRAGMA locking_mode = EXCLUSIVE``, which keeps readers out too (as a program that opens
    the file for itself would).
"""

from __future__ import annotations

import sqlite3
import sys


def main(path: str, *options: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    if "--no-readers" in options:
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
    conn.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    sys.stdin.readline()
    conn.execute("COMMIT")
    conn.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
