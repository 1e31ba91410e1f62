"""Files written readable by their owner only: the config template, keys.toml."""

from __future__ import annotations

import os
from pathlib import Path

from tui_chat.config.records import default_config_path


def write_default_config(path: Path | None = None, *, overwrite: bool = False) -> Path:
    """Write the commented template to ``path`` (default location when None), mode 0600.

    Raises ``FileExistsError`` rather than replace an existing file unless ``overwrite``.
    Returns the path written.
    """
    from tui_chat.config.template import default_config_text

    file = default_config_path() if path is None else Path(path)
    write_private_file(file, default_config_text(), overwrite=overwrite)
    return file


def write_private_file(path: Path, text: str, *, overwrite: bool = True) -> None:
    """Write ``text`` to ``path`` readable by the owner only (0600), replacing it atomically.

    The file is born 0600 (``os.open`` with that mode), never widened and narrowed afterwards;
    missing parent directories are created 0700. Without ``overwrite`` an existing file raises
    ``FileExistsError``.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = text.encode("utf-8")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    if not overwrite:
        descriptor = os.open(path, flags, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return
    import secrets  # only when replacing a file: kept out of start-up

    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, flags, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            temporary.unlink()
        except OSError:
            pass
        raise
