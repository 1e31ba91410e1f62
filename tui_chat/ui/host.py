"""What every collaborator may ask of the App: its widgets and Textual's services.

Each collaborator (``ReplyStreamer``, ``AccountWatch``, ``KeyFlow``, ``GatewaySwitcher``,
``SavedConversations``) declares what it needs of the App as a Protocol; the part they all share
is declared once here, and each extends it with the App's own state it reads or sets. The App
satisfies them all by being itself; none of them imports ``tui_chat.ui.app``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

    from textual import Logger
    from textual.message import Message
    from textual.notifications import SeverityLevel
    from textual.screen import Screen
    from textual.timer import Timer
    from textual.worker import Worker

    from tui_chat.ui.widgets.chat_log import ChatLog
    from tui_chat.ui.widgets.prompt_input import PromptInput
    from tui_chat.ui.widgets.selector import SelectorPanel
    from tui_chat.ui.widgets.status_bar import StatusBar


class AppHost(Protocol):
    """The App's widgets and the Textual services a collaborator uses."""

    @property
    def streaming(self) -> bool: ...

    @property
    def is_running(self) -> bool: ...

    @property
    def chat_log(self) -> ChatLog: ...

    @property
    def prompt(self) -> PromptInput: ...

    @property
    def status(self) -> StatusBar: ...

    @property
    def selector(self) -> SelectorPanel: ...

    @property
    def screen(self) -> Screen[object]: ...

    @property
    def log(self) -> Logger: ...

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None: ...

    def post_message(self, message: Message) -> bool: ...

    def push_screen(
        self, screen: Screen[Any], callback: Callable[[Any], None] | None = None
    ) -> Any:
        """Show a modal screen; ``callback`` gets what it is dismissed with."""

    def run_worker(
        self,
        work: Any,
        name: str | None = "",
        group: str = "default",
        description: str = "",
        exit_on_error: bool = True,
        start: bool = True,
        exclusive: bool = False,
        thread: bool = False,
    ) -> Worker[Any]: ...

    def set_timer(
        self, delay: float, callback: Callable[[], Any] | None = None, *, name: str | None = None
    ) -> Timer: ...

    def set_interval(
        self, interval: float, callback: Callable[[], Any] | None = None, *, name: str | None = None
    ) -> Timer: ...
