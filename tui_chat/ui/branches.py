"""Regenerate, flip between alternates, select an earlier turn, edit it and branch (app.branches).

The tree itself is the core ``Conversation`` (docs/architecture.md, "The conversation is a
tree"); this collaborator only turns keys into its calls and shows the branch that results:

- regenerate (ctrl+g, the palette; ctrl+r when there is nothing to retry): the last reply again
  on the endpoint in use, a new alternate beside it. "Regenerate on…" switches the endpoint in
  the model picker first.
- alt+up / alt+down select a turn of the branch on screen (marked, scrolled to); alt+left /
  alt+right flip the selected turn (else the last reply) between its alternates. The branch
  through the alternate shown is what is resent from then on, and is saved.
- alt+e (palette "Edit last message"): the selected user message (else the last one) goes to
  the prompt; sending it makes a new branch beside it (``ReplyStreamer.editing``).

The log is rebuilt from the new branch (``ChatLog.show_branch``), but for a regenerated last
reply with no history pages, whose one view is swapped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from tui_chat.core.conversation import Conversation, Message
from tui_chat.ui.host import AppHost

if TYPE_CHECKING:
    from tui_chat.ui.reply_stream import ReplyStreamer


class BranchSaving(Protocol):
    """What is needed of the saved conversations: the branch on screen changed."""

    def branch_shown(self) -> None: ...


class BranchHost(AppHost, Protocol):
    """What the branch actions need of the app."""

    conversation: Conversation

    @property
    def show_credits(self) -> bool: ...

    @property
    def show_provider(self) -> bool: ...


class Branches:
    """The keys of alternates and branches; the selected turn."""

    def __init__(self, host: BranchHost, *, replies: ReplyStreamer, saving: BranchSaving) -> None:
        self.host = host
        self.replies = replies
        self.saving = saving
        self._selected: Message | None = None

    @property
    def selected(self) -> Message | None:
        """The turn selected with alt+up / alt+down, while it is on the branch on screen."""
        chosen = self._selected
        if chosen is not None and any(m is chosen for m in self.host.conversation.messages):
            return chosen
        self._selected = None
        return None

    # -- regenerate ---------------------------------------------------------------------------

    def regenerate(self) -> bool:
        """The last reply again on the endpoint in use; the earlier one stays an alternate."""
        host = self.host
        conversation = host.conversation
        last = conversation.messages[-1] if conversation.messages else None
        if last is None or last.role != "assistant":
            host.notify("Nothing to regenerate yet.", timeout=2)
            return False
        if host.streaming:
            host.notify("A reply is still arriving: press esc to stop it, or wait.")
            return False
        swapped = host.chat_log.remove_from(last)
        if not swapped:
            host.chat_log.show_branch(
                conversation.messages[:-1],
                show_credits=host.show_credits,
                show_provider=host.show_provider,
            )
        if not self.replies.regenerate(last):
            self._show(None)  # refused: the branch as it was
            return False
        self._selected = None
        host.chat_log.anchor()
        return True

    # -- flip -----------------------------------------------------------------------------------

    def flip(self, step: int) -> None:
        """Show the previous (-1) or next (+1) alternate of the selected turn (else the last)."""
        host = self.host
        conversation = host.conversation
        target = self.selected or (conversation.messages[-1] if conversation.messages else None)
        if target is None:
            return
        if host.streaming:
            host.notify("A reply is still arriving: press esc to stop it, or wait.")
            return
        siblings = conversation.alternates(target)
        if len(siblings) < 2:
            which = "message" if target.role == "user" else "reply"
            host.notify(
                f"This {which} has no alternates (ctrl+g regenerates a reply, alt+e edits a "
                "message).",
                timeout=3,
            )
            return
        index = next(i for i, sibling in enumerate(siblings) if sibling is target)
        shown = siblings[(index + step) % len(siblings)]
        conversation.show_alternate(shown)
        self.saving.branch_shown()
        if self._selected is not None:
            self._selected = shown
        self._show(shown if self._selected is not None else None)
        number, count = conversation.alternate_position(shown)
        host.notify(f"Alternate {number} of {count}: resent from now on.", timeout=2)

    def _show(self, focus: Message | None) -> None:
        host = self.host
        conversation = host.conversation
        host.chat_log.show_branch(
            conversation.messages,
            show_credits=host.show_credits,
            show_provider=host.show_provider,
        )
        host.status.show_spend(conversation)
        last = conversation.last_reply
        host.status.served_endpoint = "" if last is None else (last.served_endpoint or "")
        if focus is not None:
            host.chat_log.reveal(focus)
        else:
            host.chat_log.anchor()

    # -- select and edit ------------------------------------------------------------------------

    def select(self, step: int) -> None:
        """Select the turn before (-1) or after (+1) the selected one (from the newest)."""
        host = self.host
        branch = host.conversation.messages
        if not branch:
            return
        current = self.selected
        if current is None:
            index = len(branch) if step < 0 else len(branch) - 1
        else:
            index = next(i for i, message in enumerate(branch) if message is current)
        index += step
        if index >= len(branch):
            self._selected = None  # past the newest: back to the prompt, nothing selected
            for found in host.chat_log.query(".-search-hit"):
                found.remove_class("-search-hit")
            host.chat_log.anchor()
            return
        self._selected = branch[max(0, index)]
        host.chat_log.reveal(self._selected)

    def edit(self) -> None:
        """Put the selected user message (else the last one) in the prompt to edit; sending it
        branches from there. Again while editing: stop editing."""
        host = self.host
        if self.replies.editing is not None:
            self.replies.editing = None
            host.notify("No longer editing: the next message goes at the end.", timeout=2)
            return
        branch = host.conversation.messages
        chosen = self.selected
        if chosen is not None and chosen.role != "user":
            chosen = None
        if chosen is None:
            chosen = next((m for m in reversed(branch) if m.role == "user"), None)
        if chosen is None:
            host.notify("No message to edit yet.", timeout=2)
            return
        if host.streaming:
            host.notify("A reply is still arriving: press esc to stop it, or wait.")
            return
        self.replies.editing = chosen
        host.prompt.load_text(chosen.content)
        host.prompt.move_cursor(host.prompt.document.end)
        host.prompt.focus()
        host.notify(
            "Editing: enter sends it as a new branch (the old one is kept: alt+left/right "
            "at that message). alt+e again stops editing.",
            timeout=5,
        )
