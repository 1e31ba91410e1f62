"""One column of a comparison: the endpoint, its live figures, the streaming reply, its buttons.

The reply is the app's own ``ReplyView`` (the streaming Markdown body and provenance line); the
figures line above it is drawn from the reply's core ``Message`` (``core.compare.ReplyFigures``)
by whoever streams it. The column only displays; the screen streams and decides.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Static

from tui_chat.core.compare import ReplyFigures
from tui_chat.core.conversation import Message
from tui_chat.core.text import inert
from tui_chat.ui.widgets.messages import ErrorCard, ReplyView


class CompareColumn(Vertical):
    """Reply ``index`` of a comparison (shown numbered from 1)."""

    def __init__(self, index: int, reply: Message) -> None:
        super().__init__(classes="compare-column -streaming", id=f"compare-column-{index}")
        self.index = index
        self.reply = reply
        self.view = ReplyView(reply, streaming=True)
        self.heading = Static(
            Content(f"{index + 1} \u00b7 {inert(reply.requested_endpoint or '')}"),
            classes="compare-title",
        )
        self.figures = Static("", classes="compare-figures")
        self._figures_text = Content("")
        self._figures_rows = 0
        self.body = VerticalScroll(self.view, classes="compare-body")
        self.stop_button = Button("Stop", id=f"stop-{index}", variant="warning", compact=True)
        self.pick_button = Button(
            f"Continue with {index + 1}", id=f"pick-{index}", variant="primary", compact=True
        )

    def compose(self) -> ComposeResult:
        yield self.heading
        yield self.figures
        yield self.body
        with Horizontal(classes="compare-actions"):
            yield self.stop_button
            yield self.pick_button

    def on_mount(self) -> None:
        self._anchored = False

    def follow(self) -> None:
        """Keep the newest text in view once the reply is taller than the column (anchored
        only then: an anchored scroll keeps short content at its bottom)."""
        if not self._anchored and self.body.max_scroll_y > 0:
            self._anchored = True
            self.body.anchor()

    def show_figures(self, figures: ReplyFigures, *, show_credits: bool) -> None:
        """The live (or final) figures line: provider, TTFT, speed, tokens, cost, state.

        Redrawn ten times a second while streaming: the screen is laid out again only when the
        line wraps to another number of rows (a layout of the whole screen per tick and column
        held the key echo back)."""
        text = Content(inert(figures.line(show_credits=show_credits)))
        if text.plain == self._figures_text.plain:
            return
        width = self.figures.size.width
        rows = len(text.wrap(width)) if width else 0
        self.figures.update(text, layout=not width or rows != self._figures_rows)
        self._figures_text, self._figures_rows = text, rows

    def append(self, text: str) -> None:
        self.view.append(text)

    def finish(
        self,
        figures: ReplyFigures,
        *,
        show_credits: bool,
        show_provider: bool,
        failure: tuple[str, str] | None,
    ) -> None:
        """The reply ended: its provenance line, its figures, and its error card if it failed."""
        self.remove_class("-streaming")
        self.view.finish(show_credits=show_credits, show_provider=show_provider)
        self.view.provenance.display = False  # the figures line above says it all
        if not self.reply.content:
            self.view.display = False  # nothing arrived: the card says it all
        self.show_figures(figures, show_credits=show_credits)
        self.stop_button.disabled = True
        self.pick_button.disabled = not self.reply.content
        if failure is not None:
            title, detail = failure
            self.add_class("-failed")
            self.body.mount(ErrorCard(title, detail, can_retry=False))
