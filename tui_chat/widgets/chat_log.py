"""The chat log: one widget per turn in a scrolling column that follows new text.

The log stays anchored to the bottom while the user is there; scrolling up lets go, and scrolling
back to the bottom re-attaches (Textual's anchor does exactly this).
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from textual.await_remove import AwaitRemove
from textual.containers import VerticalScroll
from textual.geometry import Region, Size
from textual.timer import Timer
from textual.widget import Widget

from tui_chat.core.conversation import Message, Outcome
from tui_chat.widgets.messages import ErrorCard, ModelMarker, Notice, ReplyView, UserTurn

RELEASE_AFTER_S = 0.5
"""Seconds after a scroll before far-away turns give up their painted-line caches."""

HISTORY_PAGE = 24
"""Stored messages mounted at a time: the newest page when a conversation opens, then one older
page each time the view nears the top."""

FOLD_SCREENS = 4
"""History pages wholly more than this many screens above or below the view are folded: their
widgets are unmounted and one blank placeholder of the same height keeps the scroll geometry
(a 1,000-turn conversation scrolled through would otherwise keep ~4,000 widgets, ~170 MB)."""

UNFOLD_SCREENS = 2
"""A folded page is mounted again as soon as it comes within this many screens of the view."""

COLLECT_IDLE_S = 1.0
"""Seconds without scrolling after which the widgets of folded pages are freed."""

COLLECT_AFTER_PAGES = 12
"""...or at once when this many pages were folded since the last time (scrolling on and on)."""


def _release_caches(widget: Widget) -> None:
    """Drop the painted-line caches of `widget` and its descendants (rebuilt when painted)."""
    for node in widget.walk_children(with_self=True):
        release = getattr(node, "release_render_cache", None)
        if release is not None:
            release()
        else:
            node._styles_cache.clear()


class FoldedTurns(Widget):
    """Stands in, at the same height, for a page of stored turns far from the view."""


@dataclass(eq=False)
class _HistoryPage:
    """Stored messages mounted together; folded (a placeholder) while far from the view."""

    messages: list[Message]
    endpoint: str | None  # the endpoint requested before the first of them
    widgets: list[Widget] = field(default_factory=list)
    placeholder: FoldedTurns | None = None

    def nodes(self) -> list[Widget]:
        return [self.placeholder] if self.placeholder is not None else self.widgets


class ChatLog(VerticalScroll):
    """A column of turns. Widgets are added here only; the conversation object holds the truth."""

    can_focus = True

    def __init__(self, *children: Widget, **options: Any) -> None:
        super().__init__(*children, **options)
        # id(Message) -> the widget showing it, for reveal() (search hits).
        self._message_widgets: dict[int, Widget] = {}
        # Stored messages not mounted yet (oldest first), the endpoint requested before each,
        # and the oldest history widget mounted (older pages go above it).
        self._older: list[Message] = []
        self._endpoint_before: list[str | None] = []
        self._first_history: Widget | None = None
        self._loading_older = False
        # Mounted history, oldest page first; id(Message) -> its page while that is folded.
        self._pages: list[_HistoryPage] = []
        self._folded: dict[int, _HistoryPage] = {}
        self._unfold_pending = False
        self._hold_folding = False
        self._folded_since_collect = 0
        self._collect_timer: Timer | None = None
        self._show_credits = True
        self._show_provider = True
        self._release_timer: Timer | None = None

    def on_mount(self) -> None:
        self.anchor()

    @property
    def following(self) -> bool:
        """True while new text scrolls into view (the user is at the bottom)."""
        return self.is_anchored and not self._anchor_released

    def _view_size(self) -> Size:
        """The size of the scrolled area (the log minus padding and scrollbars), from the last
        layout, without asking the compositor (which may re-arrange the whole screen to say)."""
        width, height = self.container_size
        return Size(
            max(0, width - self.scrollbar_size_vertical),
            max(0, height - self.scrollbar_size_horizontal),
        )

    def _child_regions(self) -> dict[Widget, Region]:
        """Where each child is in the scrolled content (what its `virtual_region` says), from
        the log's own arrangement, which Textual keeps until a child or the size changes.

        `virtual_region` of a child out of view re-arranges the whole screen once after every
        reflow, and the log asks it of many children on every scroll step."""
        arrangement = self.arrange(self._view_size())
        return {placement.widget: placement.region for placement in arrangement.placements}

    def _add(self, widget: Widget) -> Widget:
        self.mount(widget)
        return widget

    def add_user(self, text: str, message: Message | None = None) -> UserTurn:
        turn = UserTurn(text)
        if message is not None:
            self._message_widgets[id(message)] = turn
        self._add(turn)
        return turn

    def add_reply(self, message: Message, *, streaming: bool) -> ReplyView:
        reply = ReplyView(message, streaming=streaming)
        self._message_widgets[id(message)] = reply
        self._add(reply)
        return reply

    def load_history(
        self, messages: Sequence[Message], *, show_credits: bool = True, show_provider: bool = True
    ) -> None:
        """Show stored messages: user turns, finished replies with their provenance line, a
        marker where the requested model changed, and a card for a reply that failed.

        Lazy: only the newest HISTORY_PAGE messages are mounted now; older ones are mounted a
        page at a time when the view comes near the top (or when `reveal` needs one), so a
        1,000-turn conversation opens as fast as a short one (benchmarks/bench_history.py).
        """
        self._show_credits, self._show_provider = show_credits, show_provider
        older = [*messages]
        # The requested endpoint in force before each message, for the model-switch markers.
        self._endpoint_before = []
        endpoint: str | None = None
        for message in older:
            self._endpoint_before.append(endpoint)
            if message.role == "assistant":
                endpoint = message.requested_endpoint or endpoint
        self._older = older
        self._first_history = None
        self._pages = []
        self._folded = {}
        self._mount_older(HISTORY_PAGE)

    def _history_widgets(self, messages: Sequence[Message], endpoint: str | None) -> list[Widget]:
        """The widgets for stored `messages`; `endpoint` is the one requested before them."""
        widgets: list[Widget] = []
        replies: list[ReplyView] = []
        for index, message in enumerate(messages):
            if message.role == "user":
                # The marker goes where the user switched: before the prompt that the new model
                # answered (as it stood live), not between the prompt and its reply.
                answer = messages[index + 1] if index + 1 < len(messages) else None
                if answer is not None and answer.role == "assistant":
                    requested = answer.requested_endpoint
                    if requested and endpoint is not None and requested != endpoint:
                        widgets.append(ModelMarker(requested))
                        endpoint = requested
                turn = UserTurn(message.content)
                self._message_widgets[id(message)] = turn
                widgets.append(turn)
            elif message.role == "assistant":
                requested = message.requested_endpoint
                if requested and endpoint is not None and requested != endpoint:
                    widgets.append(ModelMarker(requested))
                endpoint = requested or endpoint
                if message.content or message.outcome is not Outcome.ERROR:
                    reply = ReplyView(message, streaming=False)
                    if message.outcome is Outcome.STOPPED:
                        reply.add_class("-stopped")
                    self._message_widgets[id(message)] = reply
                    replies.append(reply)
                    widgets.append(reply)
                if message.outcome is Outcome.ERROR:
                    widgets.append(
                        ErrorCard("The reply failed", message.error or "", can_retry=False)
                    )
        show_credits = getattr(self.app, "show_credits", self._show_credits)
        show_provider = getattr(self.app, "show_provider", self._show_provider)
        for reply in replies:
            reply.refresh_provenance(show_credits=show_credits, show_provider=show_provider)
        return widgets

    def _mount_older(self, count: int) -> None:
        """Mount the `count` newest of the stored messages not shown yet, above those shown,
        keeping what is on screen where it is."""
        if not self._older or count <= 0:
            return
        start = max(0, len(self._older) - count)
        page = self._older[start:]
        endpoint = self._endpoint_before[start]
        widgets = self._history_widgets(page, endpoint)
        del self._older[start:]
        del self._endpoint_before[start:]
        if not widgets:
            self._mount_older(count)  # a page with nothing to show: take the next one
            return
        first_shown = self._pages[0].nodes()[0] if self._pages else self._first_history
        self._pages.insert(0, _HistoryPage(page, endpoint, widgets))
        self._first_history = widgets[0]
        # If the view still reaches within a screen of the top, the next page is needed too
        # (short messages; scrolling cannot get nearer the top than 0 to ask for it).
        self.call_after_refresh(self._fill_above)
        if first_shown is None or not first_shown.is_attached:
            self.mount_all(widgets)
            return
        # Keep the view still: after the layout, scroll down by what was added above.
        offset = self._child_regions().get(first_shown, Region()).y - self.scroll_y
        self._loading_older = True

        def keep_position() -> None:
            self._loading_older = False
            if not first_shown.is_attached:
                return
            self.scroll_to(
                y=self._child_regions().get(first_shown, Region()).y - offset,
                animate=False,
                immediate=True,
                release_anchor=False,
            )

        self.mount_all(widgets, before=first_shown)
        self.call_after_refresh(keep_position)

    @property
    def older_count(self) -> int:
        """Stored messages of this conversation not mounted yet (older than those shown)."""
        return len(self._older)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._release_timer is None:
            self._release_timer = self.set_timer(RELEASE_AFTER_S, self._release_far_caches)
        if self._collect_timer is not None:
            self._collect_timer.reset()  # wait for the scrolling to pause
        if self._folded and not self._unfold_pending:
            self._unfold_pending = True
            self.call_after_refresh(self._unfold_near)
        # Within a screen of the top with older messages waiting: mount the next page.
        if self._older and not self._loading_older and new_value <= self._view_size().height:
            self._loading_older = True
            self.call_after_refresh(self._mount_older_page)

    def _release_far_caches(self) -> None:
        """Drop the painted-line caches of turns more than a few screens from the view: they
        are rebuilt if scrolled back to, and they made memory grow with every turn scrolled
        past (benchmarks/bench_history.py)."""
        self._release_timer = None
        self._fold_far_pages()
        height = self._view_size().height
        margin = height * 3
        top, bottom = self.scroll_y - margin, self.scroll_y + height + margin
        regions = self._child_regions()
        for child in self.children:
            region = regions.get(child)  # None: not laid out (e.g. being removed)
            if region is None or region.bottom < top or region.y > bottom:
                _release_caches(child)

    def _fold_far_pages(self) -> None:
        """Replace each history page far from the view by a placeholder of its height."""
        height = self._view_size().height
        if self._loading_older or self._hold_folding or height <= 0:
            return
        margin = height * FOLD_SCREENS
        top, bottom = self.scroll_y - margin, self.scroll_y + height + margin
        regions = self._child_regions()
        removals: list[AwaitRemove] = []
        for index, page in enumerate(self._pages):
            widgets = page.widgets
            if page.placeholder is not None or not widgets:
                continue
            if not all(widget.is_attached for widget in widgets):
                continue
            first, last = widgets[0], widgets[-1]
            if first not in regions or last not in regions:
                continue
            y, end = regions[first].y, regions[last].bottom
            if end <= y or (end >= top and y <= bottom):
                continue  # not laid out yet, or near the view
            placeholder = FoldedTurns()
            placeholder.styles.height = end - y
            # The same outer margins: the layout (and so the scroll position) does not move.
            placeholder.styles.margin = (first.styles.margin.top, 0, last.styles.margin.bottom, 0)
            self.mount(placeholder, before=first)
            for widget in widgets:
                # Now, not when the removed widgets are freed: Textual keeps a widget's line
                # cache (StylesCache) referenced from an lru_cache after the widget is gone.
                _release_caches(widget)
            removals.append(self.remove_children(widgets))
            page.placeholder, page.widgets = placeholder, []
            for message in page.messages:
                self._message_widgets.pop(id(message), None)
                self._folded[id(message)] = page
            if index == 0:
                self._first_history = placeholder
        if removals:
            self._folded_since_collect += len(removals)
            if self._folded_since_collect >= COLLECT_AFTER_PAGES:
                self.call_later(self._collect_after, removals)
            elif self._collect_timer is None:
                self._collect_timer = self.set_timer(COLLECT_IDLE_S, self._collect_garbage)

    async def _collect_after(self, removals: list[AwaitRemove]) -> None:
        """Collect once the folded widgets are out of the DOM and the layout that follows is
        on screen. Collecting at once (as the fold) kept the widgets just folded (still in
        the DOM), and the layout waited for the collection: a key pressed meanwhile waited
        for both (the slowest Home presses of benchmarks/bench_history.py)."""
        for removal in removals:
            await removal
        self.call_after_refresh(self._collect_garbage)

    def _collect_garbage(self) -> None:
        """Free the widgets of folded pages. They sit in reference cycles, and the collector's
        full pass (the only one that reaches them; the app sets high thresholds) runs rarely,
        so without this they would stay in memory. A full pass costs ~0.1 s with a long
        conversation open, so it runs when scrolling paused, or after many folds."""
        if self._collect_timer is not None:
            self._collect_timer.stop()
            self._collect_timer = None
        if self._folded_since_collect:
            self._folded_since_collect = 0
            gc.collect()

    def _unfold_near(self) -> None:
        """Mount again the folded pages that came near the view, keeping the view still."""
        self._unfold_pending = False
        height = self._view_size().height
        if not self._folded or height <= 0:
            return
        margin = height * UNFOLD_SCREENS
        top, bottom = self.scroll_y - margin, self.scroll_y + height + margin
        regions = self._child_regions()
        near = []
        for page in self._pages:
            placeholder = page.placeholder
            if placeholder is None or not placeholder.is_attached:
                continue
            region = regions.get(placeholder)
            if region is not None and region.bottom >= top and region.y <= bottom:
                near.append(page)
        if near:
            self._unfold(near)

    def _unfold(self, pages: list[_HistoryPage]) -> None:
        placeholders = {id(page.placeholder) for page in pages}
        # A node in view that stays: after the layout, it is put back where it was on screen.
        view_top = self.scroll_y
        regions = self._child_regions()
        anchor = next(
            (
                child
                for child in self.children
                if id(child) not in placeholders
                and child in regions
                and regions[child].bottom > view_top
            ),
            None,
        )
        offset = regions[anchor].y - view_top if anchor is not None else 0
        for page in pages:
            placeholder = page.placeholder
            assert placeholder is not None
            for message in page.messages:
                self._folded.pop(id(message), None)
            page.widgets = self._history_widgets(page.messages, page.endpoint)
            page.placeholder = None
            if not page.widgets:
                placeholder.remove()
                continue
            if self._first_history is placeholder:
                self._first_history = page.widgets[0]
            self.mount_all(page.widgets, before=placeholder)
            placeholder.remove()
        self._pages = [page for page in self._pages if page.nodes()]
        if anchor is None or self.following:
            return

        def keep_position() -> None:
            if not anchor.is_attached:
                return
            region = self._child_regions().get(anchor)
            if region is None:
                return
            target = region.y - offset
            if abs(target - self.scroll_y) >= 1:  # heights changed (e.g. a resize meanwhile)
                self.scroll_to(y=target, animate=False, immediate=True, release_anchor=False)

        self.call_after_refresh(keep_position)

    def _fill_above(self) -> None:
        if self._older and not self._loading_older and self.scroll_y <= self._view_size().height:
            self._mount_older(HISTORY_PAGE)

    def _mount_older_page(self) -> None:
        self._loading_older = False
        self._mount_older(HISTORY_PAGE)

    def reveal(self, message: Message) -> bool:
        """Scroll to the widget showing ``message`` and highlight it; False if it is not shown."""
        widget = self._message_widgets.get(id(message))
        page = self._folded.get(id(message))
        if widget is None and page is not None:  # on a folded page: mount it again
            self._unfold([page])
            widget = self._message_widgets.get(id(message))
        if widget is None:
            older = [id(item) for item in self._older]
            if id(message) in older:  # stored but not mounted yet: mount down to it
                self._mount_older(len(older) - older.index(id(message)))
                widget = self._message_widgets.get(id(message))
        if widget is None:
            return False
        for found in self.query(".-search-hit"):
            found.remove_class("-search-hit")
        widget.add_class("-search-hit")
        self.release_anchor()
        self._hold_folding = True  # until the view is there, or folding could take it away

        def scroll_to_it() -> None:
            self._hold_folding = False
            if widget.is_attached:
                self.scroll_to_widget(widget, top=True, animate=False)

        self.call_after_refresh(scroll_to_it)
        return True

    def add_marker(self, endpoint: str) -> ModelMarker:
        marker = ModelMarker(endpoint)
        self._add(marker)
        return marker

    def add_error(self, title: str, detail: str, *, can_retry: bool = True) -> ErrorCard:
        card = ErrorCard(title, detail, can_retry=can_retry)
        self._add(card)
        return card

    def add_notice(self, text: str) -> Notice:
        notice = Notice(text)
        self._add(notice)
        return notice

    def clear_turns(self) -> None:
        self._message_widgets.clear()
        self._older = []
        self._endpoint_before = []
        self._first_history = None
        self._pages = []
        self._folded = {}
        self.remove_children()

    @property
    def replies(self) -> list[ReplyView]:
        return list(self.query(ReplyView))
