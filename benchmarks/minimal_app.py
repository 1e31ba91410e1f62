"""The start-up baseline: the smallest useful Textual app (a label and a footer)."""

from textual.app import App, ComposeResult
from textual.widgets import Footer, Static


class MinimalApp(App[None]):
    BINDINGS = [("ctrl+q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Static("Minimal Textual app")
        yield Footer()


if __name__ == "__main__":
    MinimalApp().run()
