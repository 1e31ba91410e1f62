"""A small server-sent-events reader that also says when a stream ended mid-message.

Only ``data:`` fields matter for chat completions; comments (``: keep-alive``) and other fields
are skipped. Lines may end in ``\\n``, ``\\r\\n`` or ``\\r``, split anywhere across network reads.
"""

from __future__ import annotations

import codecs


class SSEParser:
    """Feed it bytes as they arrive; it returns the ``data`` of each complete event."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial_line = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[str]:
        """The data of every event completed by ``chunk`` (an empty list if none)."""
        return self._lines(self._decoder.decode(chunk))

    def finish(self) -> list[str]:
        """At end of stream: the data of any event still open, even without its blank line.

        The caller decides whether such a leftover is usable (it parses) or a message cut short.
        """
        remaining = self._lines(self._decoder.decode(b"", final=True))
        tail, self._partial_line = self._partial_line, ""
        for line in tail.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            completed = self._line(line)
            if completed is not None:
                remaining.append(completed)
        if self._data:
            remaining.append("\n".join(self._data))
            self._data = []
        return remaining

    def _lines(self, text: str) -> list[str]:
        text = self._partial_line + text
        held_cr = ""
        if text.endswith("\r"):  # maybe the first half of "\r\n": wait for the next read
            text, held_cr = text[:-1], "\r"
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self._partial_line = lines.pop() + held_cr
        events: list[str] = []
        for line in lines:
            completed = self._line(line)
            if completed is not None:
                events.append(completed)
        return events

    def _line(self, line: str) -> str | None:
        if not line:
            if not self._data:
                return None
            completed, self._data = "\n".join(self._data), []
            return completed
        if line.startswith(":"):
            return None  # a comment, e.g. ": OPENROUTER PROCESSING"
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None
