"""What start-up does not import: the screens (until opened), the embedded gateway, the
conversation database and the prompt's TextArea (until the first frame is up), the key store
and the gateway factory (until a key is looked up or a profile connected). Checked in a fresh
interpreter, since this test process has them loaded."""

from __future__ import annotations

import subprocess
import sys

START_UP = (
    "import sys\n"
    "import tui_chat.cli, tui_chat.ui.app\n"
    "loaded = sorted(m for m in sys.modules if m.startswith(('tui_chat.ui.screens.', "
    "'tui_chat.gateway_sim', 'tui_chat.store', 'sqlite3', 'tui_chat.ui.widgets.prompt_input', "
    "'textual.widgets._text_area', 'tui_chat.keys', 'tui_chat.gateways.factory')))\n"
    "assert not loaded, loaded\n"
)


def _run(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_the_app_module_loads_no_screen_gateway_sim_or_database() -> None:
    _run(START_UP)


def test_the_keymap_check_knows_the_ids_of_screens_not_loaded_yet() -> None:
    _run(
        START_UP + "from tui_chat.bindings import BINDING_IDS as ids\n"
        "for name in ('settings_save', 'conversations_close', 'dialog_cancel', "
        "'key_entry_cancel', 'stop', 'quit'):\n"
        "    assert name in ids, name\n"
        "assert not [m for m in sys.modules if m.startswith('tui_chat.ui.screens.')]\n"
    )
