"""The command line: flags, config.toml applied (flags win), keys found or asked for, --help.

``UnifyTUI.run`` is replaced by a recorder so each test sees the app exactly as the command line
built it, without a terminal. The suite's autouse fixture gives every test an empty temporary home.
"""

from __future__ import annotations

import gc
import io
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tui_chat import cli
from tui_chat.config import DEFAULT_MODEL, default_config_path, default_config_text
from tui_chat.gateways.config import SecretStr
from tui_chat.gateways.retry import RetryingGateway
from tui_chat.keys import default_keys_path
from tui_chat.ui.app import UnifyTUI

KEY = "unify-key-0123456789abcdef"


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> list[UnifyTUI]:
    """Apps that main() would have run (run() records instead of taking the terminal)."""
    apps: list[UnifyTUI] = []

    def record(self: UnifyTUI, *args: Any, **kwargs: Any) -> None:
        apps.append(self)

    monkeypatch.setattr(UnifyTUI, "run", record)
    monkeypatch.setattr("tui_chat.keys.system_keyring", lambda *a, **k: None)
    return apps


def run(launched: list[UnifyTUI], *argv: str) -> UnifyTUI:
    assert cli.main([*argv, "--no-save"]) == 0
    assert len(launched) == 1
    return launched[0]


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- help, template --------------------------------------------------------------------------


def test_help_lists_the_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for flag in (
        "--config",
        "--gateway",
        "--print-config",
        "--write-config",
        "--demo",
        "--plain",
        "--export-dir",
    ):
        assert flag in out
    assert "UNIFY_KEY" in out and "OPENROUTER_API_KEY" in out


def test_print_config_prints_the_template(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--print-config"]) == 0
    out = capsys.readouterr().out
    assert out == default_config_text()
    assert '\n#export_dir = "~/Documents/unify-tui"\n' in out  # every setting, export_dir too
    assert not default_config_path().exists()


def test_write_config_is_private_and_never_replaces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--write-config"]) == 0
    path = default_config_path()
    assert path.read_text() == default_config_text()
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert str(path) in capsys.readouterr().out
    path.write_text("theme = 'nord'\n")
    assert cli.main(["--write-config"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert path.read_text() == "theme = 'nord'\n"
    elsewhere = tmp_path / "x" / "mine.toml"
    assert cli.main(["--write-config", "--config", str(elsewhere)]) == 0
    assert elsewhere.read_text() == default_config_text()


# --- config.toml applied ---------------------------------------------------------------------


def test_no_config_file_starts_on_defaults(launched: list[UnifyTUI]) -> None:
    app = run(launched, "--demo")
    assert app.endpoint == DEFAULT_MODEL
    assert app.show_credits is True and app.show_provider is True
    assert app.startup_notice is None
    assert app.gateway_label == "Demo gateway"
    assert isinstance(app.gateway, RetryingGateway)


def test_settings_from_the_config_file(tmp_path: Path, launched: list[UnifyTUI]) -> None:
    path = write_config(
        tmp_path,
        "default_model = 'gpt-4o-mini@openai'\nshow_credits = false\nshow_provider = false\n"
        "theme = 'nord'\nsystem_prompt = 'Be brief.'\ntemperature = 0.4\nmax_tokens = 99\n"
        "spend_cap = 0.5\n[bindings]\nstop = 'f9'\n",
    )
    app = run(launched, "--demo", "--config", str(path))
    assert app.endpoint == "gpt-4o-mini@openai"
    assert app.show_credits is False and app.show_provider is False
    assert app.theme_name == "nord"
    assert app.default_system_prompt == "Be brief."
    assert app.conversation.system_prompt == "Be brief."
    assert (app.temperature, app.max_tokens) == (0.4, 99)
    assert app.spend_cap == 0.5
    assert app.keymap_setting == {"stop": "f9"}
    assert app.config is not None and app.config.path == path
    assert app.startup_notice is None


def test_flags_override_the_config(tmp_path: Path, launched: list[UnifyTUI]) -> None:
    path = write_config(tmp_path, "default_model = 'a@b'\nshow_credits = false\n")
    app = run(
        launched, "--demo", "--config", str(path), "--show-credits", "--model", "gpt-4o@openai"
    )
    assert app.show_credits is True
    assert app.endpoint == "gpt-4o@openai"


def test_export_dir_from_the_config_file(tmp_path: Path, launched: list[UnifyTUI]) -> None:
    assert run(launched, "--demo").export_dir is None  # unset: saving.default_export_dir()
    launched.clear()
    path = write_config(tmp_path, "export_dir = '~/chats'\n")
    app = run(launched, "--demo", "--config", str(path))
    assert app.export_dir == Path.home() / "chats"
    assert app.startup_notice is None


def test_export_dir_flag_wins_over_the_config_file(
    tmp_path: Path, launched: list[UnifyTUI], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path, "export_dir = '~/from-config'\n")
    app = run(launched, "--demo", "--config", str(path), "--export-dir", "~/from-flag")
    assert app.export_dir == Path.home() / "from-flag"
    launched.clear()
    # On the command line a relative path is from the current folder, as for --db and --config.
    monkeypatch.chdir(tmp_path)
    app = run(launched, "--demo", "--config", str(path), "--export-dir", "out/md")
    assert app.export_dir == tmp_path / "out" / "md"


def test_bad_export_dir_in_the_config_is_said_and_the_default_used(
    tmp_path: Path, launched: list[UnifyTUI]
) -> None:
    path = write_config(tmp_path, "show_credits = false\nexport_dir = 42\n")
    app = run(launched, "--demo", "--config", str(path))
    notice = app.startup_notice or ""
    assert f"{path}:2: export_dir: expected a folder path" in notice
    assert "default" in notice
    assert app.export_dir is None  # the default folder
    assert app.show_credits is False  # the rest of the file is kept


def test_empty_export_dir_flag_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--demo", "--no-save", "--export-dir", ""])
    assert exit_info.value.code == 2
    assert "--export-dir: expected a folder path" in capsys.readouterr().err


def test_config_in_the_default_place_is_read(launched: list[UnifyTUI]) -> None:
    path = default_config_path()
    path.parent.mkdir(parents=True)
    path.write_text("show_provider = false\n")
    assert run(launched, "--demo").show_provider is False


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("show_credits = tru\n", [":1: show_credits: TOML syntax error"]),
        ("colour = 'red'\n", [":1: colour: unknown setting"]),
        ("show_credits = 'no'\nmax_tokens = 1.5\n", [":1: show_credits:", ":2: max_tokens:"]),
    ],
)
def test_bad_config_still_starts_and_says_why(
    tmp_path: Path, launched: list[UnifyTUI], text: str, fragments: list[str]
) -> None:
    path = write_config(tmp_path, text)
    app = run(launched, "--demo", "--config", str(path))
    notice = app.startup_notice
    assert notice is not None and "default" in notice
    for fragment in fragments:
        assert f"{path}{fragment}" in notice
    assert app.show_credits is True  # the defaults are in force


def test_unknown_binding_and_theme_are_named_with_their_line(
    tmp_path: Path, launched: list[UnifyTUI]
) -> None:
    path = write_config(tmp_path, "theme = 'nrod'\n[bindings]\nstop = 'f9'\nfly = 'f1'\n")
    app = run(launched, "--demo", "--config", str(path))
    notice = app.startup_notice or ""
    assert f"{path}:1: theme: there is no theme 'nrod'; did you mean 'nord'?" in notice
    assert f"{path}:4: bindings.fly: no binding has this id" in notice
    assert app.keymap_setting == {"stop": "f9"}
    assert app.theme_name is None


def test_a_binding_that_would_swallow_typing_is_refused_at_start(
    tmp_path: Path, launched: list[UnifyTUI]
) -> None:
    path = write_config(tmp_path, "[bindings]\nquit = 'a'\nstop = 'f9'\n")
    app = run(launched, "--demo", "--config", str(path))
    assert f"{path}:2: bindings.quit: 'a' types 'a'" in (app.startup_notice or "")
    assert app.keymap_setting == {"stop": "f9"}  # quit keeps ctrl+q


def test_screen_bindings_are_known_though_screens_load_on_first_use(
    tmp_path: Path, launched: list[UnifyTUI]
) -> None:
    text = "[bindings]\nsettings_save = 'ctrl+w'\nconversations_close = 'f10'\nfly = 'f1'\n"
    app = run(launched, "--demo", "--config", str(write_config(tmp_path, text)))
    assert app.keymap_setting == {"settings_save": "ctrl+w", "conversations_close": "f10"}
    assert "bindings.fly" in (app.startup_notice or "")


def test_missing_config_given_on_the_command_line_is_said(
    tmp_path: Path, launched: list[UnifyTUI]
) -> None:
    app = run(launched, "--demo", "--config", str(tmp_path / "nope.toml"))
    assert app.startup_notice is not None and "does not exist" in app.startup_notice


def test_unknown_gateway_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--gateway", "nowhere", "--no-save"]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "demo" in err and "openrouter" in err


def test_bad_model_flag_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--demo", "--model", "no-provider", "--no-save"]) == 2
    assert "--model" in capsys.readouterr().err


def test_model_follows_the_gateway_kind(launched: list[UnifyTUI]) -> None:
    app = run(launched, "--gateway", "openrouter")
    assert app.endpoint == "openai/gpt-4o-mini"  # an OpenRouter id, not a Unify endpoint
    assert app.pending_connection is not None
    assert app.pending_connection.profile.key_env == "OPENROUTER_API_KEY"


def test_openrouter_model_ids_are_accepted(
    launched: list[UnifyTUI], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-0123456789")
    app = run(launched, "--gateway", "openrouter", "--model", "anthropic/claude-3.5-sonnet")
    assert app.endpoint == "anthropic/claude-3.5-sonnet"
    assert app.gateway is not None and app.gateway_label == "OpenRouter"


def test_demo_profile_from_config_starts_the_embedded_gateway(
    tmp_path: Path, launched: list[UnifyTUI]
) -> None:
    path = write_config(tmp_path, "default_gateway = 'demo'\n")
    app = run(launched, "--config", str(path))
    assert app.gateway_label == "Demo gateway" and app.gateway is not None


# --- keys ------------------------------------------------------------------------------------


def test_key_from_the_environment_connects_at_once(
    launched: list[UnifyTUI], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNIFY_KEY", KEY)
    monkeypatch.setenv("UNIFY_BASE_URL", "http://127.0.0.1:9/v0")
    app = run(launched)
    assert app.pending_connection is None
    assert isinstance(app.gateway, RetryingGateway)
    assert app.account is not None
    assert app.gateway_label == "Unify"


def test_the_heap_is_frozen_again_after_the_warm_up(launched: list[UnifyTUI]) -> None:
    # What the warm-up imports lives as long as the process: frozen, the chat log's full
    # collections do not walk it (benchmarks/bench_history.py).
    app = run(launched, "--demo")
    assert app._after_warm_up == [gc.freeze]


def test_no_key_means_the_app_will_ask(launched: list[UnifyTUI]) -> None:
    app = run(launched)
    assert app.gateway is None
    pending = app.pending_connection
    assert pending is not None and pending.key is None
    assert pending.profile.name == "unify"
    assert pending.base_url == "https://api.unify.ai/v0"
    assert "keys.toml" in pending.where_saved


def test_key_saved_in_keys_toml_is_used(launched: list[UnifyTUI]) -> None:
    path = default_keys_path()
    path.parent.mkdir(parents=True)
    path.write_text(f'[keys]\nunify = "{KEY}"\n')
    path.chmod(0o644)
    app = run(launched, "--base-url", "http://127.0.0.1:9/v0")
    assert app.pending_connection is None and app.gateway is not None
    notice = app.startup_notice or ""
    if os.name == "posix":
        assert "readable by other users" in notice
    assert KEY not in notice


def test_plain_http_to_another_host_waits_for_confirmation(
    launched: list[UnifyTUI], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNIFY_KEY", KEY)
    app = run(launched, "--base-url", "http://gateway.example.com/v0")
    assert app.gateway is None
    pending = app.pending_connection
    assert pending is not None and pending.key == SecretStr(KEY)
    assert pending.host == "gateway.example.com"


def test_profile_from_config_with_its_own_key_variable(
    tmp_path: Path, launched: list[UnifyTUI], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(
        tmp_path,
        "[gateways.work]\nkind = 'unify'\nbase_url = 'http://127.0.0.1:9/v0'\n"
        "key_env = 'WORK_KEY'\ndefault_model = 'm@p'\n",
    )
    monkeypatch.setenv("WORK_KEY", KEY)
    app = run(launched, "--config", str(path), "--gateway", "work")
    assert app.pending_connection is None and app.gateway is not None
    assert app.gateway_label == "work (Unify)"
    assert app.endpoint == "m@p"


def test_local_server_needs_no_key(tmp_path: Path, launched: list[UnifyTUI]) -> None:
    path = write_config(
        tmp_path,
        "default_gateway = 'local'\n[gateways.local]\nkind = 'openai-compatible'\n"
        "base_url = 'http://127.0.0.1:9/v1'\ndefault_model = 'llama3@local'\n",
    )
    app = run(launched, "--config", str(path))
    assert app.pending_connection is None and app.gateway is not None


def test_plain_mode_without_a_key_says_how_to_set_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tui_chat.keys.system_keyring", lambda *a, **k: None)
    assert cli.main(["--plain", "--no-save"]) == 2
    err = capsys.readouterr().err
    assert "UNIFY_KEY" in err and "--demo" in err


def test_plain_mode_refuses_plain_http_unless_confirmed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNIFY_KEY", KEY)
    monkeypatch.setattr("builtins.input", lambda prompt="": "n")
    assert cli.main(["--plain", "--base-url", "http://gateway.example.com/v0"]) == 2
    err = capsys.readouterr().err
    assert "unencrypted" in err and "not sent" in err
    assert KEY not in err


def test_model_flag_wins_over_the_reopened_conversation_config_default_does_not(
    tmp_path: Path, launched: list[UnifyTUI]
) -> None:
    # Regression: --model was ignored when the app reopened the last conversation. An explicit
    # --model or --gateway pins the start model (tests/app/test_model_flag_on_reopen.py shows
    # what the app does with it); config.toml's default_model leaves the saved model in charge.
    path = write_config(tmp_path, "default_model = 'gpt-4o-mini@openai'\n")
    app = run(launched, "--demo", "--config", str(path))
    assert app.endpoint == "gpt-4o-mini@openai" and app.pin_model is False
    launched.clear()
    app = run(launched, "--demo", "--config", str(path), "--model", "gpt-4o@openai")
    assert app.endpoint == "gpt-4o@openai" and app.pin_model is True
    launched.clear()
    app = run(launched, "--gateway", "openrouter")
    assert app.endpoint == "openai/gpt-4o-mini" and app.pin_model is True


def test_the_exit_status_is_the_apps_return_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """0 after a quit; what the app set otherwise (1 after a crash, 128 + n after signal n)."""
    codes = iter([None, 0, 1, 143])

    def run(self: UnifyTUI, *args: Any, **kwargs: Any) -> None:
        code = next(codes)
        if code is not None:
            self.exit(return_code=code)

    monkeypatch.setattr(UnifyTUI, "run", run)
    monkeypatch.setattr("tui_chat.keys.system_keyring", lambda *a, **k: None)
    assert [cli.main(["--demo", "--no-save"]) for _ in range(4)] == [0, 0, 1, 143]


def test_plain_mode_takes_config_toml_and_keys_toml_as_the_app_does(
    sim: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Regression: --plain ignored system_prompt, temperature and max_tokens from config.toml.
    config = default_config_path()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f"default_model = 'llama-3.1-8b-chat@groq'\nsystem_prompt = 'Be brief.'\n"
        f"temperature = 0.4\nmax_tokens = 99\n[gateways.unify]\nbase_url = '{sim.base_url}'\n",
        encoding="utf-8",
    )
    keys = default_keys_path()  # the key as the app saves it, none in the environment
    keys.write_text('[keys]\nunify = "test-key"\n', encoding="utf-8")
    keys.chmod(0o600)
    monkeypatch.setattr("tui_chat.keys.system_keyring", lambda *a, **k: None)
    lines = iter(["Hi", "And again", "quit"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    assert cli.main(["--plain"]) == 0
    assert "Error" not in capsys.readouterr().out
    assert len(sim.requests) == 2
    for request in sim.requests:  # every turn carries the conversation's settings
        body = request.body
        assert body["model"] == "llama-3.1-8b-chat@groq"
        assert body["messages"][0] == {"role": "system", "content": "Be brief."}
        assert body["temperature"] == 0.4
        assert body["max_tokens"] == 99


# --- --plain: pause asks for the model, then the chat goes on ----------------------------------


PAUSED = "Paused. The model is llama-2-70b-chat@anyscale.\n"
QUESTION = "Switch to (<model>@<provider>; Enter keeps it, `quit` exits): "
WELCOME_BACK = "Welcome back! (Remember, enter `pause` to pause and `quit` to exit)\n"


def plain_session(
    sim: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], typed: str
) -> str:
    """``unify-tui --plain`` on the embedded gateway with ``typed`` as stdin; what it printed."""
    monkeypatch.setenv("UNIFY_KEY", "test-key")
    monkeypatch.setattr("sys.stdin", io.StringIO(typed))
    assert cli.main(["--plain", "--base-url", sim.base_url]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "Error" not in out
    return out


def test_plain_pause_switches_the_model_and_keeps_the_history(
    sim: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    typed = "Hi\npause\ngpt-4o@openai\nHow are you?\nquit\n"
    out = plain_session(sim, monkeypatch, capsys, typed)
    first, second = (request.body for request in sim.requests)
    assert first["model"] == "llama-2-70b-chat@anyscale"
    assert second["model"] == "gpt-4o@openai"
    user, assistant, again = second["messages"]  # the first turn, kept
    assert user == {"role": "user", "content": "Hi"}
    assert assistant["role"] == "assistant" and assistant["content"]
    assert again == {"role": "user", "content": "How are you?"}
    # The reply, the question after the pause, then the seed's welcome on the new model.
    greeting = "Let's have a chat. (Enter `pause` to pause and `quit` to exit)\n"
    assert out.startswith(f"{greeting}> {assistant['content']}\n")
    assert f"\n> {PAUSED}{QUESTION}{WELCOME_BACK}> " in out
    assert out.count(WELCOME_BACK) == 1


def test_plain_pause_refuses_an_invalid_model_and_asks_again(
    sim: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    typed = "Hi\npause\ngpt-4o\ngpt-4o@openai\nHow are you?\nquit\n"
    out = plain_session(sim, monkeypatch, capsys, typed)
    refused = "The endpoint 'gpt-4o' is missing '@<provider>'. Expected <model>@<provider>"
    assert f"{QUESTION}{refused}" in out
    assert out.count(QUESTION) == 2
    assert out.index(refused) < out.index(WELCOME_BACK)
    assert [request.body["model"] for request in sim.requests] == [
        "llama-2-70b-chat@anyscale",
        "gpt-4o@openai",
    ]


def test_plain_pause_enter_keeps_the_model(
    sim: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = plain_session(sim, monkeypatch, capsys, "Hi\npause\n\nAgain\nquit\n")
    assert f"{QUESTION}{WELCOME_BACK}" in out
    second = sim.requests[1].body
    assert second["model"] == "llama-2-70b-chat@anyscale"
    assert [message["content"] for message in second["messages"]][::2] == ["Hi", "Again"]


@pytest.mark.parametrize("typed", ["Hi\npause\nquit\n", "Hi\npause\n"], ids=["quit", "eof"])
def test_plain_pause_question_quit_or_end_of_input_ends_the_chat(
    sim: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], typed: str
) -> None:
    out = plain_session(sim, monkeypatch, capsys, typed)
    assert out.endswith(QUESTION if typed.endswith("quit\n") else QUESTION + "\n")
    assert WELCOME_BACK not in out
    assert len(sim.requests) == 1


async def test_a_theme_picked_in_the_app_is_used_at_the_next_start(
    tmp_path: Path, launched: list[UnifyTUI]
) -> None:
    # Regression: the theme chosen in the palette was forgotten on restart.
    from tui_chat.config.state import default_state_path

    path = write_config(tmp_path, "theme = 'nord'\n")
    app = run(launched, "--demo", "--config", str(path))
    assert app.theme_name == "nord"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == "nord" and not default_state_path().exists()  # a start is no pick
        app.theme = "gruvbox"  # as the palette's "Change theme" sets it
        await pilot.pause()
    assert default_state_path().exists()
    launched.clear()
    assert run(launched, "--demo", "--config", str(path)).theme_name == "gruvbox"
    # config.toml naming another theme since wins again: the user changed it there
    path = write_config(tmp_path, "theme = 'dracula'\n")
    launched.clear()
    assert run(launched, "--demo", "--config", str(path)).theme_name == "dracula"
