"""The chat log: one widget per turn in a scrolling column that follows new text.

The log stays anchored to the bottom while the user is there; scrolling up lets go, and scrolling
back to the bottom re-attaches (Textual's anchor does exactly this).

A stored conversation is shown in pages of HISTORY_PAGE messages. Only the pages near the view
have widgets; every run of other pages is one blank `FoldedTurns` of their height (each page's
measured when it was last shown, or estimated from its text before it ever was). So the scroll
range and the scrollbar cover the whole conversation from the moment it opens, Home goes to its
first message in one press, memory does not grow with the pages scrolled past, and a layout
places a few dozen widgets however long the conversation is.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from textual import events
from textual.actions import SkipAction
from textual.await_remove import AwaitRemove
from textual.containers import VerticalScroll
from textual.geometry import Region, Size
from textual.timer import Timer
from textual.widget import AwaitMount, Widget

from tui_chat.core.conversation import Message, Outcome
from tui_chat.ui.widgets.messages import ErrorCard, ModelMarker, Notice, ReplyView, UserTurn

RELEASE_AFTER_S = 0.5
"""Seconds after a scroll before far-away turns give up their painted-line caches."""

HISTORY_PAGE = 8
"""Stored messages per page: mounted, and folded away again, together. Pages are counted from the
newest message, so only the oldest page may be shorter."""

FOLD_SCREENS = 4
"""History pages wholly more than this many screens above or below the view are folded: their
widgets are unmounted and one blank placeholder of the same height keeps the scroll geometry
(a 1,000-turn conversation scrolled through would otherwise keep ~4,000 widgets, ~170 MB)."""

UNFOLD_SCREENS = 2
"""A folded page is mounted again as soon as it comes within this many screens of the view."""

LIVE_KEPT = 2 * HISTORY_PAGE
"""Messages of this session kept out of pages (never folded): the newest turns, where the next
reply, a retry or a Continue acts."""

COLLECT_IDLE_S = 1.0
"""Seconds without scrolling after which the widgets of folded pages are freed."""

COLLECT_AFTER_PAGES = 6
"""...or at once when this many pages were folded since the last time (scrolling on and on):
48 messages, a full pass of 40-120 ms with a 1,000-turn conversation open."""


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None (another C library, another system)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def return_freed_memory() -> None:
    """Hand the memory a collection freed back to the system. glibc keeps freed heap memory
    for later, so the resident size would stay at its highest (scrolling through 1,000 turns:
    150-169 MB at the end without this, 130-136 MB with it; docs/performance.md)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _release_caches(widget: Widget) -> None:
    """Drop the painted-line caches of `widget` and its descendants (rebuilt when painted)."""
    for node in widget.walk_children(Widget, with_self=True):
        release = getattr(node, "release_render_cache", None)
        if release is not None:
            release()
        else:
            node._styles_cache.clear()


@dataclass(eq=False)
class _HistoryPage:
    """Stored messages mounted together; folded (in a placeholder) while far from the view."""

    messages: list[Message]
    endpoint: str | None  # the endpoint requested before the first of them
    widgets: list[Widget] = field(default_factory=list)
    placeholder: FoldedTurns | None = None  # the run of folded pages it is in
    rows: int = 0  # while folded: its height, the top margin of its first turn included
    rows_width: int = 0  # the log width at which `rows` holds
    rows_measured: bool = False  # False: estimated from the text (not laid out at that width)


class FoldedTurns(Widget):
    """Stands in, at their height, for a run of consecutive folded pages of stored turns."""

    def __init__(self, pages: list[_HistoryPage]) -> None:
        super().__init__()
        self.pages = pages
        for page in pages:
            page.placeholder = self
        self.update_height()

    def update_height(self) -> None:
        self.styles.height = sum(page.rows for page in self.pages)


_Item = tuple[str, Any]
"""What a stored message turns into, without building widgets (to estimate a page's height):
("marker", endpoint), ("user", message), ("reply", message) or ("error", message)."""


def _history_items(messages: Sequence[Message], endpoint: str | None) -> list[_Item]:
    """The turns `messages` are shown as, in order; `endpoint` is the one requested before."""
    items: list[_Item] = []
    for index, message in enumerate(messages):
        if message.role == "user":
            # The marker goes where the user switched: before the prompt that the new model
            # answered (as it stood live), not between the prompt and its reply.
            answer = messages[index + 1] if index + 1 < len(messages) else None
            if answer is not None and answer.role == "assistant":
                requested = answer.requested_endpoint
                if requested and endpoint is not None and requested != endpoint:
                    items.append(("marker", requested))
                    endpoint = requested
            items.append(("user", message))
        elif message.role == "assistant":
            requested = message.requested_endpoint
            if requested and endpoint is not None and requested != endpoint:
                items.append(("marker", requested))
            endpoint = requested or endpoint
            if message.content or message.outcome is not Outcome.ERROR:
                items.append(("reply", message))
            if message.is_unfinished:
                items.append(("error", message))
    return items


def _wrapped_rows(text: str, width: int) -> int:
    """Rows `text` takes wrapped at `width` cells (roughly: characters, not cells or words)."""
    width = max(1, width)
    return sum(max(1, -(-len(line) // width)) for line in text.split("\n"))


def _markdown_rows(source: str, width: int) -> int:
    """Rows a Markdown reply takes at `width`, roughly: wrapped lines, one blank row between
    blocks, a padding row above and below each code block, borders around a table."""
    width = max(1, width)
    rows = 0
    blank_before = False
    in_fence = False
    in_table = False
    for raw in source.split("\n"):
        line = raw.strip()
        if line.startswith(("```", "~~~")):
            in_fence = not in_fence
            rows += 1  # the padding row above or below the code
            blank_before = False
            continue
        if not line and not in_fence:
            blank_before = rows > 0
            in_table = False
            continue
        if blank_before:
            rows += 1
            blank_before = False
        if line.startswith("|") and not in_fence:
            if not in_table:
                rows += 2  # the top border, and the rule under the header (the delimiter row)
                in_table = True
            if set(line) <= set("|-: "):
                continue
        rows += max(1, -(-len(raw) // width))
    return rows + (2 if in_table else 0)


def _estimated_rows(items: list[_Item], width: int) -> int:
    """The rows a page of turns takes at log width `width` (each turn's top margin included),
    estimated from the text."""
    rows = 0
    for kind, value in items:
        rows += 1  # each turn's top margin (1 in chat.tcss)
        if kind == "user":
            rows += _wrapped_rows(value.content, width - 9)  # margin 6, border 1, padding 2
        elif kind == "reply":
            rows += _markdown_rows(value.content, width - 3) + 1  # border, padding; provenance
        elif kind == "error":
            rows += 3 + _wrapped_rows(value.error or "", width - 4)  # round border, title
        else:
            rows += 1
    return rows


class ChatLog(VerticalScroll):
    """A column of turns. Widgets are added here only; the conversation object holds the truth."""

    can_focus = True

    def __init__(self, *children: Widget, **options: Any) -> None:
        super().__init__(*children, **options)
        # id(Message) -> the widget showing it, for reveal() (search hits).
        self._message_widgets: dict[int, Widget] = {}
        # The stored conversation's pages, oldest first; id(Message) -> its page while folded.
        self._pages: list[_HistoryPage] = []
        self._folded: dict[int, _HistoryPage] = {}
        self._unfold_pending = False
        self._settling = 0  # unfolds whose widgets are not mounted and laid out yet
        self._swaps: list[Callable[[], None]] = []  # pages mounted hidden, not in place yet
        self._hold_folding = False
        self._folded_since_collect = 0
        self._collect_timer: Timer | None = None
        self._show_credits = True
        self._show_provider = True
        self._release_timer: Timer | None = None
        # Which alternate a message is, of how many ("2/3"): Conversation.alternate_position
        # of the conversation shown, set by the app; None shows no markers.
        self.alternate_of: Callable[[Message], tuple[int, int]] | None = None

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

    def _alternate(self, message: Message) -> tuple[int, int] | None:
        """Which alternate ``message`` is, of how many (``alternate_of``, set by the app)."""
        if self.alternate_of is None:
            return None
        try:
            return self.alternate_of(message)
        except ValueError:  # not in the conversation shown (being replaced)
            return None

    def add_user(self, text: str, message: Message | None = None) -> UserTurn:
        turn = UserTurn(text, None if message is None else self._alternate(message))
        if message is not None:
            self._message_widgets[id(message)] = turn
        self._add(turn)
        return turn

    def add_reply(self, message: Message, *, streaming: bool) -> ReplyView:
        reply = ReplyView(message, streaming=streaming, alternate=self._alternate(message))
        self._message_widgets[id(message)] = reply
        self._add(reply)
        return reply

    def remove_from(self, message: Message) -> bool:
        """Remove the widget showing ``message`` and everything after it (a reply swapped for
        an alternate); False if it has no mounted widget (then rebuild the log instead)."""
        widget = self._message_widgets.get(id(message))
        if widget is None or widget.parent is not self or self._pages:
            return False  # (history pages hold their messages: those are rebuilt)
        children = list(self.children)
        gone = children[children.index(widget) :]
        for child in gone:
            for key, shown in list(self._message_widgets.items()):
                if shown is child:
                    del self._message_widgets[key]
        self.remove_children(gone)
        return True

    def show_branch(
        self, messages: Sequence[Message], *, show_credits: bool, show_provider: bool
    ) -> None:
        """Show another branch: every turn goes and ``messages`` are shown as history."""
        self.clear_turns()
        self.load_history(messages, show_credits=show_credits, show_provider=show_provider)

    def widget_of(self, message: Message) -> Widget | None:
        """The mounted widget showing ``message``, if any."""
        return self._message_widgets.get(id(message))

    def load_history(
        self, messages: Sequence[Message], *, show_credits: bool = True, show_provider: bool = True
    ) -> None:
        """Show stored messages: user turns, finished replies with their provenance line, a
        marker where the requested model changed, and a card for a reply that failed.

        Lazy: only the newest page (HISTORY_PAGE messages) gets widgets now; every older page
        is a placeholder of its estimated height, mounted for real when the view comes near it
        (or when `reveal` needs it), so a 1,000-turn conversation opens as fast as a short one
        (benchmarks/bench_history.py) and can be scrolled through end to end.
        """
        self._show_credits, self._show_provider = show_credits, show_provider
        # The requested endpoint in force before each message, for the model-switch markers.
        endpoint_before: list[str | None] = []
        endpoint: str | None = None
        for message in messages:
            endpoint_before.append(endpoint)
            if message.role == "assistant":
                endpoint = message.requested_endpoint or endpoint
        self._pages = []
        self._folded = {}
        self._swaps = []
        end = len(messages)
        while end > 0:
            start = max(0, end - HISTORY_PAGE)
            self._pages.insert(0, _HistoryPage([*messages[start:end]], endpoint_before[start]))
            end = start
        if not self._pages:
            return
        width = self._view_size().width or self.app.size.width
        older = self._pages[:-1]
        for page in older:
            self._fold_state(page, self._estimate(page, width), width, measured=False)
        newest = self._pages[-1]
        newest.widgets = self._history_widgets(newest.messages, newest.endpoint)
        mount = self.mount_all([FoldedTurns(older), *newest.widgets] if older else newest.widgets)
        self._settle([mount], lambda: None)

    def page_live_turns(self, messages: Sequence[Message]) -> int:
        """Make pages of this session's older turns, so they fold away like stored ones.

        ``messages`` is the whole conversation; the turns after the last page are this
        session's, shown as they came. Each run of HISTORY_PAGE of them, but the newest
        LIVE_KEPT, becomes a page of the widgets already on screen (a notice among them goes
        with the page: folded and unfolded again, it is rebuilt from the messages alone).
        Without this, the widgets of every reply of a long session stayed mounted: memory
        grew with each one (benchmarks/bench_session_memory.py). Returns the pages made."""
        paged = sum(len(page.messages) for page in self._pages)
        if paged > len(messages) or any(
            a is not b
            for page_messages, start in self._page_starts()
            for a, b in zip(
                page_messages, messages[start : start + len(page_messages)], strict=False
            )
        ):
            return 0  # the pages are not the start of these messages (should not happen)
        made = 0
        children = list(self.children)
        positions = {id(child): index for index, child in enumerate(children)}
        while len(messages) - paged >= HISTORY_PAGE + LIVE_KEPT:
            chunk = list(messages[paged : paged + HISTORY_PAGE])
            start = self._first_widget_index(chunk[0], children, positions)
            end = self._first_widget_index(messages[paged + HISTORY_PAGE], children, positions)
            if start is None or end is None or end <= start:
                break
            widgets = children[start:end]
            if any(isinstance(w, FoldedTurns) or not w.is_mounted for w in widgets):
                break
            endpoint: str | None = None
            for earlier in reversed(messages[:paged]):
                if earlier.role == "assistant" and earlier.requested_endpoint:
                    endpoint = earlier.requested_endpoint
                    break
            self._pages.append(_HistoryPage(chunk, endpoint, widgets=widgets))
            paged += HISTORY_PAGE
            made += 1
        if made and self._release_timer is None:
            # The fold pass runs after a scroll; the reply's last one may have come before
            # these pages were made: look again, or they stayed mounted until the next scroll.
            self._release_timer = self.set_timer(RELEASE_AFTER_S, self._release_far_caches)
        return made

    def _page_starts(self) -> Iterator[tuple[list[Message], int]]:
        start = 0
        for page in self._pages:
            yield page.messages, start
            start += len(page.messages)

    def _first_widget_index(
        self, message: Message, children: list[Widget], positions: dict[int, int]
    ) -> int | None:
        """Where the turn of ``message`` begins among ``children``: its widget, or the model
        marker just before it (None: not shown by a widget of its own)."""
        widget = self._message_widgets.get(id(message))
        index = positions.get(id(widget)) if widget is not None else None
        if index is None:
            return None
        if index > 0 and isinstance(children[index - 1], ModelMarker):
            index -= 1
        return index

    def _estimate(self, page: _HistoryPage, width: int) -> int:
        return _estimated_rows(_history_items(page.messages, page.endpoint), width)

    def _fold_state(self, page: _HistoryPage, rows: int, width: int, *, measured: bool) -> None:
        """Record `page` as folded, `rows` high at `width` (its widgets are the caller's)."""
        page.rows, page.rows_width, page.rows_measured = rows, width, measured
        page.widgets = []
        for message in page.messages:
            self._message_widgets.pop(id(message), None)
            self._folded[id(message)] = page

    def _history_widgets(self, messages: Sequence[Message], endpoint: str | None) -> list[Widget]:
        """The widgets for stored `messages`; `endpoint` is the one requested before them."""
        widgets: list[Widget] = []
        replies: list[ReplyView] = []
        for kind, value in _history_items(messages, endpoint):
            if kind == "marker":
                widgets.append(ModelMarker(value))
            elif kind == "user":
                turn = UserTurn(value.content, self._alternate(value))
                self._message_widgets[id(value)] = turn
                widgets.append(turn)
            elif kind == "reply":
                reply = ReplyView(value, streaming=False, alternate=self._alternate(value))
                reply.show_ending()
                self._message_widgets[id(value)] = reply
                replies.append(reply)
                widgets.append(reply)
            else:
                cut = value.outcome is Outcome.CUT
                title = "The reply was cut off" if cut else "The reply failed"
                widgets.append(ErrorCard(title, value.error or "", can_retry=False))
        show_credits = getattr(self.app, "show_credits", self._show_credits)
        show_provider = getattr(self.app, "show_provider", self._show_provider)
        for reply in replies:
            reply.refresh_provenance(show_credits=show_credits, show_provider=show_provider)
        return widgets

    @property
    def folded_count(self) -> int:
        """Stored messages of this conversation without widgets now (on folded pages)."""
        return len(self._folded)

    def on_resize(self, event: events.Resize) -> None:
        """Placeholders hold a height for one width: at another, estimate it again."""
        width = self._view_size().width
        if width <= 0:
            return
        runs: dict[int, FoldedTurns] = {}
        for page in self._pages:
            placeholder = page.placeholder
            if placeholder is not None and page.rows_width != width:
                page.rows, page.rows_width = self._estimate(page, width), width
                page.rows_measured = False
                runs[id(placeholder)] = placeholder
        for placeholder in runs.values():
            placeholder.update_height()

    def action_scroll_home(self) -> None:
        """Home: the first message, in one press and at once (no 1-second animation: the
        pages between would be mounted on the way)."""
        self._jump(top=True)

    def action_scroll_end(self) -> None:
        """End: the newest message, at once; the log follows new text again."""
        self._jump(top=False)

    def _jump(self, *, top: bool) -> None:
        if not self._allow_scroll:
            raise SkipAction()
        height = self._view_size().height
        # The pages the view lands on now; those near it once these are on screen.
        if top:
            self.scroll_home(animate=False, immediate=True)
            self._unfold_range(0, height, keep_view=False)
        else:
            self.scroll_end(animate=False, immediate=True)
            end = self.virtual_size.height
            self._unfold_range(end - height, end, keep_view=False)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._release_timer is None:
            self._release_timer = self.set_timer(RELEASE_AFTER_S, self._release_far_caches)
        if self._collect_timer is not None:
            self._collect_timer.reset()  # wait for the scrolling to pause
        self._schedule_unfold_near()

    def _schedule_unfold_near(self, *, after_refresh: bool = True) -> None:
        """Check the folded pages near the view after the next frame (or, if one was just
        drawn, as soon as the messages waiting are handled)."""
        if self._folded and not self._unfold_pending:
            self._unfold_pending = True
            if after_refresh:
                self.call_after_refresh(self._unfold_near)
            else:
                self.call_later(self._unfold_near)

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
        if self._hold_folding or height <= 0:
            return
        margin = height * FOLD_SCREENS
        top, bottom = self.scroll_y - margin, self.scroll_y + height + margin
        regions = self._child_regions()
        width = self._view_size().width
        removals: list[AwaitRemove] = []
        newest = len(self._pages) - 1  # stays: End, and the next reply, land there
        for index, page in enumerate(self._pages):
            widgets = page.widgets
            if page.placeholder is not None or not widgets or index == newest:
                continue
            if not all(widget.is_mounted for widget in widgets):
                continue  # (being mounted: its height is not known yet)
            first, last = widgets[0], widgets[-1]
            if first not in regions or last not in regions:
                continue
            y, end = regions[first].y, regions[last].bottom
            if end <= y or (end >= top and y <= bottom):
                continue  # not laid out yet, or near the view
            # Its height with the top margin: the layout (and the scroll position) stays.
            self._fold_state(page, end - y + first.styles.margin.top, width, measured=True)
            self._join_run(index, before=first)
            for widget in widgets:
                # Now, not when the removed widgets are freed: Textual keeps a widget's line
                # cache (StylesCache) referenced from an lru_cache after the widget is gone.
                _release_caches(widget)
            removals.append(self.remove_children(widgets))
        if removals:
            self._folded_since_collect += len(removals)
            if self._folded_since_collect >= COLLECT_AFTER_PAGES:
                self.call_later(self._collect_after, removals)
            elif self._collect_timer is None:
                self._collect_timer = self.set_timer(COLLECT_IDLE_S, self._collect_garbage)

    def _join_run(self, index: int, *, before: Widget) -> None:
        """Put the page at `index`, just folded, into the run of folded pages next to it (one
        run if it joins two), or into a new placeholder mounted before `before`."""
        page = self._pages[index]
        above = self._pages[index - 1].placeholder if index > 0 else None
        below = self._pages[index + 1].placeholder if index + 1 < len(self._pages) else None
        if above is not None and below is not None and above is not below:
            above.pages.extend([page, *below.pages])
            for joined in above.pages:
                joined.placeholder = above
            below.pages = []
            below.remove()
            above.update_height()
        elif above is not None:
            above.pages.append(page)
            page.placeholder = above
            above.update_height()
        elif below is not None:
            below.pages.insert(0, page)
            page.placeholder = below
            below.update_height()
        else:
            self.mount(FoldedTurns([page]), before=before)

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
            return_freed_memory()

    def _unfold_near(self) -> None:
        """Mount again the folded pages that came near the view, keeping the view still: those
        in view first; then, a frame at a time, the nearest within UNFOLD_SCREENS."""
        self._unfold_pending = False
        height = self._view_size().height
        if not self._folded or height <= 0 or self._settling:
            return  # (an unfold settling schedules this again when it is on screen)
        top, bottom = self.scroll_y, self.scroll_y + height
        if not self._unfold_range(top, bottom):
            margin = height * UNFOLD_SCREENS
            self._unfold_range(top - margin, bottom + margin, limit=1)

    def _unfold_range(
        self, top: float, bottom: float, *, keep_view: bool = True, limit: int | None = None
    ) -> int:
        """Mount again the folded pages reaching into rows `top` to `bottom` of the content
        (at most `limit`, the nearest to the view first); returns how many."""
        view_top = self.scroll_y
        view_bottom = view_top + self._view_size().height
        near: list[tuple[float, int, _HistoryPage]] = []
        for index, (page, y, end) in enumerate(self._folded_spans()):
            if end >= top and y <= bottom:
                distance = max(0, y - view_bottom, view_top - end)
                near.append((distance, index, page))
        chosen = sorted(near, key=lambda item: item[:2])[:limit]
        if chosen:
            self._unfold(
                [page for _, _, page in sorted(chosen, key=lambda item: item[1])],
                keep_view=keep_view,
            )
        return len(chosen)

    def _folded_spans(self) -> list[tuple[_HistoryPage, int, int]]:
        """Each folded page, oldest first, with the rows it spans in the content."""
        regions = self._child_regions()
        spans: list[tuple[_HistoryPage, int, int]] = []
        for child in self.children:
            if isinstance(child, FoldedTurns) and child in regions and child.is_attached:
                y = regions[child].y
                for page in child.pages:
                    spans.append((page, y, y + page.rows))
                    y += page.rows
        return spans

    def _unfold(
        self,
        pages: list[_HistoryPage],
        *,
        keep_view: bool = True,
        then: Callable[[], None] | None = None,
    ) -> None:
        """Mount `pages` again in place of their placeholders. With `keep_view`, what is on
        screen stays where it is (a turn in view is put back at its row after the layout),
        unless the view is at the very top: it stays there, on the first message. `then`
        runs once the widgets are mounted and laid out."""
        # Pages still being mounted take their places first: the new ones go among them.
        for pending in list(self._swaps):
            pending()
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
        mounts: list[AwaitMount] = []
        for page in pages:
            assert page.placeholder is not None
            for message in page.messages:
                self._folded.pop(id(message), None)
            page.widgets = self._history_widgets(page.messages, page.endpoint)
            for widget in page.widgets:
                # Until mounted the placeholder keeps its rows, so the view does not move.
                # (A jump moves the view anyway: there the turns show as soon as they can.)
                widget.display = not keep_view
            if page.widgets:
                mounts.append(self.mount_all(page.widgets, before=page.placeholder))
        keep = keep_view and anchor is not None and not self.following and view_top >= 1

        # After the swap: where the view was and where the turn in view was, in the content.
        settled_at: dict[str, float] = {}

        def put_back() -> None:
            """After the layout: if the turn in view moved (heights came out other than the
            arrangement said before the layout), move the view with it, unless something
            else moved the view meanwhile (Home, End, a search hit, the user)."""
            if not keep or anchor is None or not anchor.is_attached or not settled_at:
                return
            if abs(self.scroll_y - settled_at["top"]) >= 1:
                return
            region = self._child_regions().get(anchor)
            if region is not None and abs(region.y - settled_at["anchor"]) >= 1:
                self._correct_view(self.scroll_y + region.y - settled_at["anchor"])

        def swap() -> None:
            """Mounted (so their heights can be known): the turns take their page's rows of the
            placeholder, and the view is put back, all before the layout that shows them. (Shown
            while still being mounted, they made the view jump for a frame.)"""
            if swap not in self._swaps:
                return  # done already (another unfold came first)
            self._swaps.remove(swap)
            # The pages wholly above the view now (it may have moved since the unfold began):
            # what they grow or shrink by moves the view by as much, unless it is corrected.
            view_top = self.scroll_y
            above = {
                id(page): page.rows for page, _, end in self._folded_spans() if end <= view_top
            }
            for page in pages:
                run = page.placeholder
                assert run is not None
                page.placeholder = None
                # The run splits: the pages before this one (a new placeholder), this page's
                # turns, the pages after it (the same placeholder, shorter; gone if none).
                at = run.pages.index(page)
                head, run.pages = run.pages[:at], run.pages[at + 1 :]
                if head:
                    self.mount(FoldedTurns(head), before=page.widgets[0] if page.widgets else run)
                for widget in page.widgets:
                    widget.display = True
                if run.pages:
                    run.update_height()
                else:
                    run.remove()
            self._pages = [page for page in self._pages if page.placeholder or page.widgets]
            if keep_view and above:
                regions = self._child_regions()
                change = 0
                for page in pages:
                    if id(page) in above and page.widgets:
                        first, last = regions.get(page.widgets[0]), regions.get(page.widgets[-1])
                        if first is not None and last is not None:
                            rows = last.bottom - first.y + page.widgets[0].styles.margin.top
                            change += rows - above[id(page)]
                if change:
                    self._correct_view(view_top + change)
            if keep and anchor is not None:
                region = self._child_regions().get(anchor)
                if region is not None:
                    settled_at.update(top=self.scroll_y, anchor=region.y)

        self._swaps.append(swap)
        if not keep_view:
            swap()

        def laid_out() -> None:
            put_back()  # (again: exact now)
            if then is not None:
                then()

        self._settle(mounts, laid_out, early=swap)

    def _correct_view(self, y: float) -> None:
        """Move the view to `y` to make up for pages above it that came out taller or shorter
        than their estimate, leaving the user's choice of following alone.

        While following, nothing is moved: the compositor keeps an anchored log at its end
        whatever the heights above. Not only unneeded, a move would stop the following, because
        Textual's `scroll_to(..., immediate=True)` (8.x) does not pass `release_anchor` on
        and releases the anchor anyway: End, then a page above settling, and new text no longer
        scrolled into view."""
        if self.following:
            return
        self.scroll_to(y=y, animate=False, immediate=True, release_anchor=False)

    def _settle(
        self,
        mounts: list[AwaitMount],
        then: Callable[[], None],
        *,
        early: Callable[[], None] | None = None,
    ) -> None:
        """Once `mounts` are done, run `early` (before the layout); once they are laid out (a
        frame drawn), run `then`, and look again for folded pages near the view. Meanwhile no
        other page is unfolded: the places it would go by are not laid out yet. (Folding goes
        on: it reads only pages that are mounted.)"""

        def settled() -> None:
            self._settling -= 1
            then()
            self._schedule_unfold_near(after_refresh=False)  # (no frame may be coming)
            if self._release_timer is None:  # a fold pass skipped meanwhile runs later
                self._release_timer = self.set_timer(RELEASE_AFTER_S, self._release_far_caches)

        async def when_mounted() -> None:
            for mount in mounts:
                await mount
            if early is not None:
                early()
            self.call_after_refresh(settled)

        self._settling += 1
        self.call_later(when_mounted)

    def reveal(self, message: Message) -> bool:
        """Scroll to the widget showing ``message`` and highlight it; False if it is not shown."""
        widget = self._message_widgets.get(id(message))
        page = self._folded.get(id(message)) if widget is None else None
        if page is not None:  # on a folded page: mount it again
            self._hold_folding = True  # until the view is there, or folding could take it away
            self._unfold([page], keep_view=False, then=lambda: self._scroll_to_hit(message))
            widget = self._message_widgets.get(id(message))
        if widget is None:
            return False
        for found in self.query(".-search-hit"):
            found.remove_class("-search-hit")
        widget.add_class("-search-hit")
        self.release_anchor()
        if page is None:
            self._hold_folding = True
            self.call_after_refresh(self._scroll_to_hit, message)
        return True

    def _scroll_to_hit(self, message: Message) -> None:
        self._hold_folding = False
        widget = self._message_widgets.get(id(message))
        # Where the log's own arrangement puts it: the compositor's map may not have the
        # page just mounted yet.
        region = self._child_regions().get(widget) if widget is not None else None
        if region is not None:
            self.scroll_to(y=region.y, animate=False, immediate=True)

    def add_marker(self, endpoint: str) -> ModelMarker:
        marker = ModelMarker(endpoint)
        self._add(marker)
        return marker

    def add_error(
        self,
        title: str,
        detail: str,
        *,
        can_retry: bool = True,
        can_continue: bool = False,
        can_enter_key: bool = False,
    ) -> ErrorCard:
        card = ErrorCard(
            title,
            detail,
            can_retry=can_retry,
            can_continue=can_continue,
            can_enter_key=can_enter_key,
        )
        self._add(card)
        return card

    def add_notice(self, text: str) -> Notice:
        notice = Notice(text)
        self._add(notice)
        return notice

    def clear_turns(self) -> None:
        self._message_widgets.clear()
        self._swaps = []
        self._pages = []
        self._folded = {}
        self.remove_children()

    @property
    def replies(self) -> list[ReplyView]:
        return list(self.query(ReplyView))
