"""Run ``unify-tui --demo`` or the minimal app in this process and call a function at its first
frame: the first paint after the alternate screen was entered, as bench_startup.py sees it from
the terminal's side. Used by profile_startup.py and count_startup_instructions.py."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

MINIMAL_APP = Path(__file__).resolve().parent / "minimal_app.py"
ALT_SCREEN = "\x1b[?1049h"
FIRST_PAINT = "\x1b[1;1H"


def run_to_first_frame(
    at_first_frame: Callable[[], None],
    *,
    minimal: bool,
    at_run: Callable[[], None] | None = None,
) -> None:
    """Run the program; ``at_run`` when ``App.run`` is called, ``at_first_frame`` once the first
    frame has been handed to the driver's writer thread (which may not have written it yet)."""
    import textual.app
    import textual.drivers.linux_driver as linux_driver

    write = linux_driver.LinuxDriver.write
    run = textual.app.App.run
    state = {"alternate": False, "done": False}

    def hooked_run(self: textual.app.App[object], *args: object, **kwargs: object) -> object:
        if at_run is not None:
            at_run()
        return run(self, *args, **kwargs)  # type: ignore[arg-type]

    def hooked_write(self: linux_driver.LinuxDriver, data: str) -> None:
        write(self, data)
        if not state["done"]:
            state["alternate"] = state["alternate"] or ALT_SCREEN in data
            if state["alternate"] and FIRST_PAINT in data:
                state["done"] = True
                at_first_frame()

    textual.app.App.run = hooked_run  # type: ignore[method-assign]
    linux_driver.LinuxDriver.write = hooked_write  # type: ignore[method-assign]
    if minimal:
        import runpy

        runpy.run_path(str(MINIMAL_APP), run_name="__main__")
    else:
        from tui_chat.cli import main

        sys.argv = ["unify-tui", "--demo"]
        main()
