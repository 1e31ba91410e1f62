"""The chat baseline of bench_outside.py: the smallest Textual chat app a developer would write.

An ``Input`` at the bottom; Enter sends its text to an OpenAI-compatible server with the ``openai``
async client (built when the app starts, as such an app would) and streams the reply into a
``Markdown`` widget through Textual's ``MarkdownStream``. No history, no saving, no status.

Run: python benchmarks/minimal_chat_app.py BASE_URL MODEL
"""

from __future__ import annotations

import sys

from openai import AsyncOpenAI
from textual import work
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Input, Markdown, Static


class MinimalChatApp(App[None]):
    BINDINGS = [("ctrl+q", "quit", "Quit")]
    CSS = "Input { dock: bottom; }"
    AUTO_FOCUS = "Input"  # not the scrolling log, which is focusable too

    def __init__(self, base_url: str, model: str) -> None:
        super().__init__()
        self.model = model
        self.client = AsyncOpenAI(api_key="no-key", base_url=base_url, max_retries=0)

    def compose(self) -> ComposeResult:
        yield VerticalScroll(Static("Minimal chat"), id="log")
        yield Input(placeholder="Type a message")

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value
        event.input.value = ""
        log = self.query_one("#log", VerticalScroll)
        await log.mount(Static(text))
        reply = Markdown()
        await log.mount(reply)
        log.anchor()
        self.stream_reply(text, reply)

    @work(exclusive=True)
    async def stream_reply(self, text: str, reply: Markdown) -> None:
        stream = Markdown.get_stream(reply)
        try:
            response = await self.client.chat.completions.create(
                model=self.model, messages=[{"role": "user", "content": text}], stream=True
            )
            async for chunk in response:
                for choice in chunk.choices:
                    if choice.delta.content:
                        await stream.write(choice.delta.content)
        finally:
            await stream.stop()


if __name__ == "__main__":
    MinimalChatApp(sys.argv[1], sys.argv[2]).run()
