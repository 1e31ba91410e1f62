"""StreamingMarkdown: streamed replies render exactly like whole ones, stay inert, and select."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

import pytest
from markdown_it.token import Token
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.geometry import Offset
from textual.selection import Selection
from textual.strip import Strip

from tui_chat.ui.widgets.markdown_blocks import BlockSplitter, make_inert, split_blocks
from tui_chat.ui.widgets.markdown_stream import (
    _PARSER,
    DARK_CODE_THEME,
    LIGHT_CODE_THEME,
    StreamingMarkdown,
    lexer_for,
)

LONG_REPLY = """# Streaming report

Here is a paragraph with *emphasis*, **strong**, `inline code` and a [link](https://example.com).
It continues on a second line.

## A list that spans blank lines

- first item
- second item

  with a continuation paragraph

- third item

1. one
2. two
   ```python
   nested = True

   print(nested)
   ```
3. three

| Endpoint | Latency | Cost |
|---|---:|---:|
| gpt@openai | 120 | 0.0010 |
| llama@groq | 80 | 0.0002 |

```python
def total(items):
    result = 0

    for item in items:
        result += item


    return result
```
Text straight after a fence.

~~~shell|bash
export KEY=value

echo "$KEY"
~~~

````markdown
```python
print("a fence inside a fence")
```
````

> A quote
> over two lines

```unknownlang
some {{ unknown }} code
```

### Last words

The end, with an unclosed fence:

```js
const answer = 42;

console.log(answer);
"""


class MarkdownApp(App[None]):
    """A chat-log-like host: a vertical scroll holding the widgets under test."""

    def __init__(self, *widgets: StreamingMarkdown) -> None:
        super().__init__()
        self._widgets = widgets

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="log"):
            yield from self._widgets


async def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    """Let the app run until `predicate()` holds (instead of sleeping a fixed time)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def widget_lines(widget: StreamingMarkdown) -> list[str]:
    """The widget's lines as painted: through render_line, trailing spaces removed."""
    return [widget.render_line(y).text.rstrip() for y in range(widget.size.height)]


def laid_out(widget: StreamingMarkdown) -> Callable[[], bool]:
    """True once the widget's laid-out height shows all of its rendered lines."""
    return lambda: (
        widget.is_finished
        and widget._render_width == widget.size.width > 0
        and widget.size.height == widget._line_count
    )


def random_chunks(text: str, seed: int) -> list[str]:
    rng = random.Random(seed)
    chunks: list[str] = []
    position = 0
    while position < len(text):
        size = rng.choice((1, 1, 2, 3, 5, 8, 13, 40))
        chunks.append(text[position : position + size])
        position += size
    return chunks


# ---------------------------------------------------------------------- block splitting (pure)


def test_blank_line_inside_a_fence_does_not_end_the_block() -> None:
    blocks = split_blocks("Intro\n\n```python\na = 1\n\nb = 2\n```\nAfter\n")
    assert blocks == ["Intro\n\n", "```python\na = 1\n\nb = 2\n```\n", "After\n"]


def test_list_items_and_continuations_stay_together_until_a_column_0_line() -> None:
    text = "- a\n- b\n\n  more b\n\n1. x\n   ```\n   code\n\n   more\n   ```\n2. y\n"
    assert split_blocks(text) == [
        "- a\n- b\n\n  more b\n\n",
        text[len("- a\n- b\n\n  more b\n\n") :],
    ]


def test_blocks_do_not_depend_on_how_the_text_was_chunked() -> None:
    expected = split_blocks(LONG_REPLY)
    assert "".join(expected) == LONG_REPLY
    for seed in range(20):
        splitter = BlockSplitter()
        blocks: list[str] = []
        pending = ""
        received = 0
        block_start = 0
        for chunk in random_chunks(LONG_REPLY, seed):
            pending += chunk
            received += len(chunk)
            while "\n" in pending:
                line, pending = pending.split("\n", 1)
                ends_before, ends_after = splitter.feed(line)
                consumed = received - len(pending)
                line_start = consumed - len(line) - 1
                if ends_before and line_start > block_start:
                    blocks.append(LONG_REPLY[block_start:line_start])
                    block_start = line_start
                if ends_after:
                    blocks.append(LONG_REPLY[block_start:consumed])
                    block_start = consumed
        splitter.feed(pending)
        blocks.append(LONG_REPLY[block_start:])
        assert "".join(blocks) == LONG_REPLY
        # The streamed split may keep the last blocks together; never splits elsewhere.
        assert blocks[:-1] == expected[: len(blocks) - 1]


def test_splitting_keeps_every_code_block_table_and_heading_whole() -> None:
    def structure(tokens: list[Token]) -> list[tuple[str, str]]:
        kept = ("fence", "code_block", "table_open", "heading_open", "blockquote_open")
        return [(token.type, token.content) for token in tokens if token.type in kept]

    whole = structure(_PARSER.parse(LONG_REPLY))
    pieces = [
        item for block in split_blocks(LONG_REPLY) for item in structure(_PARSER.parse(block))
    ]
    assert pieces == whole
    assert len([kind for kind, _ in whole if kind == "fence"]) == 6


def test_inline_triple_backticks_do_not_open_a_fence() -> None:
    assert split_blocks("```a``` inline\n\nnext\n") == ["```a``` inline\n\n", "next\n"]


def test_control_characters_become_visible() -> None:
    assert make_inert("a\x1b]52;c;Zm9v\x07b\x9bc\r\n\x00") == "a␛]52;c;Zm9v␇b\\x9bc\n␀"


def test_fence_info_strings_find_a_lexer_or_plain_text() -> None:
    assert lexer_for("shell|bash") is not None
    assert lexer_for("shell|bash").name == "Bash"  # type: ignore[union-attr]
    assert lexer_for("{python}") is not None
    assert lexer_for("python title=x.py") is not None
    assert lexer_for("no-such-language") is None
    assert lexer_for("") is None


# ---------------------------------------------------------------------- the widget in an app


async def test_streamed_reply_renders_like_the_whole_text() -> None:
    reference = StreamingMarkdown(LONG_REPLY, id="reference")
    app = MarkdownApp(reference)
    async with app.run_test(size=(90, 60)) as pilot:
        await wait_until(laid_out(reference))
        assert "const answer = 42;" in widget_lines(reference)  # the unclosed fence is code
        log = app.query_one("#log", VerticalScroll)
        for seed in range(4):
            streamed = StreamingMarkdown(streaming=True)
            await log.mount(streamed)
            for index, chunk in enumerate(random_chunks(LONG_REPLY, seed)):
                streamed.append(chunk)
                if index % 7 == 0:
                    await asyncio.sleep(0)  # let some frames render mid-stream
                if index % 97 == 0:
                    await pilot.pause()
            assert streamed._rendered_blocks > 0  # blocks were rendered while streaming
            streamed.finish()
            await wait_until(laid_out(streamed))
            assert streamed.source == LONG_REPLY
            assert streamed.size.width == reference.size.width
            assert widget_lines(streamed) == widget_lines(reference), f"chunking seed {seed}"
            await streamed.remove()


async def test_a_long_open_fence_shows_every_line_while_it_streams() -> None:
    code = [f"value_{index} = compute({index})  # step {index}" for index in range(60)]
    text = "Intro\n\n```python\n" + "\n".join(code) + "\n```\n\nOutro\n"
    widget = StreamingMarkdown(streaming=True)
    app = MarkdownApp(widget)
    async with app.run_test(size=(80, 100)):
        cut = text.index("value_59")
        widget.append(text[:cut])
        await wait_until(lambda: "value_58 = compute(58)  # step 58" in widget_lines(widget))
        shown = widget_lines(widget)
        assert shown[shown.index(code[0]) : shown.index(code[58]) + 1] == code[:59]
        widget.append(text[cut:])
        widget.finish()
        await wait_until(laid_out(widget))
        reference = StreamingMarkdown(text)
        await app.query_one("#log", VerticalScroll).mount(reference)
        await wait_until(laid_out(reference))
        assert widget_lines(widget) == widget_lines(reference)
        assert "Outro" in widget_lines(widget)


async def test_fenced_code_is_intact_after_finish_resize_and_theme_change() -> None:
    code = "def total(items):\n    result = 0\n\n    for item in items:\n        result += item"
    widget = StreamingMarkdown(f"Before\n\n```python\n{code}\n```\n\nAfter\n")
    app = MarkdownApp(widget)
    async with app.run_test(size=(80, 30)) as pilot:
        await wait_until(laid_out(widget))

        def code_is_intact() -> bool:
            lines = widget_lines(widget)
            start = lines.index("def total(items):")
            return lines[start : start + 5] == code.split("\n")

        assert code_is_intact()
        dark_row = widget.render_line(widget_lines(widget).index("def total(items):"))

        await pilot.resize_terminal(50, 30)
        await wait_until(lambda: widget._render_width == widget.size.width <= 50)
        assert code_is_intact()

        app.theme = "textual-light"
        await wait_until(lambda: widget._code_theme == LIGHT_CODE_THEME)
        await wait_until(laid_out(widget))
        assert code_is_intact()
        light_row = widget.render_line(widget_lines(widget).index("def total(items):"))
        assert _background(light_row) != _background(dark_row)
        assert DARK_CODE_THEME != LIGHT_CODE_THEME


def _background(strip: Strip) -> object:
    return next(segment.style.bgcolor for segment in strip if segment.style is not None)


async def test_last_tokens_are_not_dropped_by_coalescing() -> None:
    widget = StreamingMarkdown(streaming=True)
    app = MarkdownApp(widget)
    async with app.run_test(size=(80, 30)):
        words = [f" word{index}" for index in range(500)]
        for word in words:
            widget.append(word)  # far faster than frames: all coalesced
        widget.append(" FINAL")
        widget.finish()  # flushes at once, no waiting for a frame
        assert widget.rendered_text.endswith("FINAL")
        await wait_until(laid_out(widget))
        assert widget_lines(widget)[-1].endswith("FINAL")
        assert " ".join(widget_lines(widget)).count("word") == 500


async def test_text_shows_without_finish_within_a_frame_or_two() -> None:
    widget = StreamingMarkdown(streaming=True)
    app = MarkdownApp(widget)
    async with app.run_test(size=(80, 30)):
        widget.append("Hello ")
        widget.append("there, **world**")
        await wait_until(lambda: widget_lines(widget)[:1] == ["Hello there, world"])


async def test_hold_freezes_the_display_while_the_source_grows() -> None:
    widget = StreamingMarkdown(streaming=True)
    app = MarkdownApp(widget)
    async with app.run_test(size=(80, 30)):
        widget.append("First paragraph.\n\n")
        await wait_until(lambda: widget_lines(widget) == ["First paragraph."])
        widget.hold = True
        widget.append("Second paragraph.\n\n```python\nheld = True\n```\n")
        widget.finish()
        await asyncio.sleep(0.1)  # several frames' time: nothing may change
        assert widget_lines(widget) == ["First paragraph."]
        assert widget.source.endswith("held = True\n```\n")
        widget.hold = False
        await wait_until(lambda: "held = True" in widget_lines(widget))
        assert "Second paragraph." in widget_lines(widget)


async def test_shell_bash_and_unusual_fences_keep_their_code() -> None:
    text = (
        "```shell|bash\necho hi | grep h\n```\n\n"
        "~~~\ntilde fence\n~~~\n\n"
        "```made-up-language\nkeep { me }\n```\n\n"
        "````\n```\nnested backticks\n```\n````\n"
    )
    widget = StreamingMarkdown(text)
    app = MarkdownApp(widget)
    async with app.run_test(size=(80, 40)):
        await wait_until(laid_out(widget))
        lines = widget_lines(widget)
        for expected in ("echo hi | grep h", "tilde fence", "keep { me }", "nested backticks"):
            assert expected in lines
        assert lines.count("```") == 2  # the inner fence of the ```` block is code
        bash_row = widget.render_line(lines.index("echo hi | grep h"))
        assert len({segment.style for segment in bash_row}) > 2  # highlighted as bash


async def test_rich_markup_and_terminal_escapes_are_shown_literally() -> None:
    text = (
        "Markup [bold red]stays[/] text and [link=https://evil.example]no link[/link].\n\n"
        "Escapes: \x1b[31mred\x1b[0m \x1b]0;new title\x07 \x1b]52;c;aGVsbG8=\x07 \x9b2J \x07\n\n"
        "```\ncode \x1b[2J keeps [b]markup[/b]\n```\n"
    )
    widget = StreamingMarkdown(text)
    app = MarkdownApp(widget)
    async with app.run_test(size=(100, 20)):
        await wait_until(laid_out(widget))
        shown = "\n".join(widget_lines(widget))
        assert "[bold red]stays[/]" in shown
        assert "[link=https://evil.example]no link[/link]" in shown
        assert "␛[31mred␛[0m" in shown
        assert "␛]0;new title␇" in shown
        assert "␛]52;c;aGVsbG8=␇" in shown
        assert "\\x9b2J" in shown
        assert "code ␛[2J keeps [b]markup[/b]" in shown

        # What the terminal would be sent for this widget: Textual's own SGR codes only.
        strips = widget.render_lines(widget.size.region)
        terminal_output = "".join(strip.render(app.console) for strip in strips)
        assert "\x07" not in terminal_output
        assert "\x1b]" not in terminal_output  # no OSC (title, clipboard, hyperlink)
        assert not any("\x80" <= character <= "\x9f" for character in terminal_output)
        assert "\x1b[2J" not in terminal_output and "\x1b[31m" not in terminal_output

        svg = app.export_screenshot()
        assert "red]stays[/]" in svg


async def test_code_blocks_returns_fence_bodies_in_order() -> None:
    widget = StreamingMarkdown(LONG_REPLY)
    app = MarkdownApp(widget)
    async with app.run_test(size=(80, 30)):
        blocks = widget.code_blocks()
        assert blocks[0] == "nested = True\n\nprint(nested)\n"
        assert blocks[1].startswith("def total(items):\n    result = 0\n\n")
        assert blocks[2] == 'export KEY=value\n\necho "$KEY"\n'
        assert blocks[3] == '```python\nprint("a fence inside a fence")\n```\n'
        assert blocks[-1] == "const answer = 42;\n\nconsole.log(answer);\n"  # unclosed


async def test_selection_returns_the_selected_text() -> None:
    widget = StreamingMarkdown("# Title\n\nAlpha beta gamma.\n\n```python\nx = 1\ny = 2\n```\n")
    app = MarkdownApp(widget)
    async with app.run_test(size=(60, 20)) as pilot:
        await wait_until(laid_out(widget))
        lines = widget_lines(widget)
        alpha = lines.index("Alpha beta gamma.")
        code = lines.index("x = 1")

        # A mouse drag from "beta" to the end of "x = 1".
        await pilot.mouse_down(widget, offset=(6, alpha))
        await pilot.hover(widget, offset=(5, code))
        await pilot.mouse_up(widget, offset=(5, code))
        await wait_until(lambda: app.screen.get_selected_text() is not None)
        assert app.screen.get_selected_text() == "beta gamma.\n\n\nx = 1"

        # The selected cells are painted with the selection style.
        selected_row = widget.render_line(alpha)
        selection_style = app.screen.get_component_rich_style("screen--selection")
        assert any(
            segment.text.strip() == "beta gamma."
            and segment.style == segment.style + selection_style
            for segment in selected_row
        )

        # Selection set directly, and select-all.
        app.screen.selections = {widget: Selection(Offset(0, alpha), Offset(5, alpha))}
        assert app.screen.get_selected_text() == "Alpha"
        await pilot.click(widget, offset=(2, alpha), times=2)
        await wait_until(lambda: (app.screen.get_selected_text() or "").startswith("Title"))
        assert app.screen.get_selected_text().endswith("y = 2")  # type: ignore[union-attr]


@pytest.mark.parametrize("text", ["", "\n\n", "   "])
async def test_empty_or_blank_reply_renders_nothing(text: str) -> None:
    widget = StreamingMarkdown(text)
    app = MarkdownApp(widget)
    async with app.run_test(size=(40, 10)):
        await wait_until(laid_out(widget))
        assert widget.size.height == 0
        assert widget.code_blocks() == []


def test_a_replys_single_line_breaks_are_kept() -> None:
    # Regression: Markdown soft breaks joined the lines of the seed's poem into one paragraph.
    import io

    from rich.console import Console

    from tui_chat.ui.widgets._markdown_render import BlockMarkdown

    def lines(markup: str) -> list[str]:
        console = Console(file=io.StringIO(), width=60, color_system=None)
        console.print(BlockMarkdown(markup, "monokai"))
        return [line.rstrip() for line in console.file.getvalue().splitlines() if line.strip()]

    poem = "Roses are red,\nviolets are blue,\nsugar is sweet."
    assert lines(poem) == ["Roses are red,", "violets are blue,", "sugar is sweet."]
    # a list item's own continuation line stays with its item, on its own line
    items = lines("- first item\n  goes on here\n- second item")
    assert items[0].endswith("first item") and items[1].strip() == "goes on here"
    assert items[2].endswith("second item")
    # code keeps its text exactly
    code = lines("```\na = 1\nb = 2\n```")
    assert [line.strip() for line in code] == ["a = 1", "b = 2"]
