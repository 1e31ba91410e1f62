"""config.toml: every setting read, defaults with no file, and a bad file explained, never fatal."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_chat.bindings import BINDING_IDS, DEFAULT_KEYS
from tui_chat.config import (
    AppConfig,
    ConfigProblem,
    GatewayProfile,
    UnknownGatewayError,
    default_config_path,
    default_config_text,
    load_config,
    write_default_config,
    write_private_file,
)
from tui_chat.connection import connect

SECRET = "sk-abcdefghijklmnopqrstuvwxyz0123456789"

FULL = """\
default_gateway = "local"
default_model = "gpt-4o-mini@openai"
show_credits = false
show_provider = false
theme = "nord"
system_prompt = "Answer in French."
temperature = 0.3
max_tokens = 512
spend_cap = 0.25
export_dir = "~/chats/exports"

[bindings]
stop = "f9"
pause = ["ctrl+p", "f2"]

[gateways.local]
kind = "openai-compatible"
base_url = "http://localhost:11434/v1/"
key_env = "LOCAL_KEY"
default_model = "llama3.1:8b"

[gateways.local.prices."llama3.1:8b"]
input = 0.1
output = 0.2

[gateways.openrouter]
default_model = "openai/gpt-4o-mini"
"""


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> tuple[AppConfig, list[ConfigProblem]]:
    return load_config(write(tmp_path, text))


def only_problem(problems: list[ConfigProblem]) -> ConfigProblem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


# --- defaults --------------------------------------------------------------------------------


def test_no_file_means_defaults_and_no_problem(tmp_path: Path) -> None:
    config, problems = load_config(tmp_path / "missing.toml")
    assert problems == []
    assert config == AppConfig()
    assert config.default_gateway == "unify"
    assert config.show_credits is True and config.show_provider is True
    assert config.temperature is None and config.max_tokens is None and config.spend_cap is None
    assert config.theme is None and config.system_prompt is None and config.default_model is None
    assert config.export_dir is None  # the app's own default folder
    assert dict(config.bindings) == {}
    assert set(config.gateways) == {"unify", "openrouter", "demo"}


def test_default_location_is_the_user_config_dir() -> None:
    # The suite's autouse fixture points XDG_CONFIG_HOME into a temporary home.
    path = default_config_path()
    assert path.name == "config.toml"
    assert path.parent.name == "unify-tui"
    assert path.is_relative_to(Path(os.environ["XDG_CONFIG_HOME"]))
    config, problems = load_config()
    assert problems == [] and config == AppConfig()


def test_empty_file_is_the_defaults(tmp_path: Path) -> None:
    config, problems = load(tmp_path, "# nothing here\n")
    assert problems == []
    assert config == AppConfig()


# --- every setting read ----------------------------------------------------------------------


def test_every_setting_is_read(tmp_path: Path) -> None:
    config, problems = load(tmp_path, FULL)
    assert problems == []
    assert config.default_gateway == "local"
    assert config.default_model == "gpt-4o-mini@openai"
    assert config.show_credits is False
    assert config.show_provider is False
    assert config.theme == "nord"
    assert config.system_prompt == "Answer in French."
    assert config.temperature == 0.3
    assert config.max_tokens == 512
    assert config.spend_cap == 0.25
    assert config.export_dir == Path.home() / "chats" / "exports"  # ~ expanded
    assert dict(config.bindings) == {"stop": "f9", "pause": "ctrl+p,f2"}
    local = config.profile("local")
    assert local.kind == "openai-compatible"
    assert local.base_url == "http://localhost:11434/v1"
    assert local.key_env == "LOCAL_KEY"
    assert local.default_model == "llama3.1:8b"
    price = local.price("llama3.1:8b")
    assert price is not None and (price.input, price.output) == (0.1, 0.2)
    assert config.default_profile is local
    assert config.model_for("local") == "llama3.1:8b"
    assert config.model_for("unify") == "gpt-4o-mini@openai"
    # A built-in profile overridden in part keeps its kind, URL and key variable.
    openrouter = config.profile("openrouter")
    assert openrouter.kind == "openrouter"
    assert openrouter.key_env == "OPENROUTER_API_KEY"
    assert openrouter.base_url == "https://openrouter.ai/api/v1"
    assert config.model_for("openrouter") == "openai/gpt-4o-mini"
    assert config.path == tmp_path / "config.toml"


def test_profile_labels_and_unknown_profile(tmp_path: Path) -> None:
    config, _ = load(tmp_path, FULL)
    assert config.profile("unify").label == "Unify"
    assert config.profile("local").label == "local (OpenAI-compatible)"
    with pytest.raises(UnknownGatewayError, match="nope") as caught:
        config.profile("nope")
    assert isinstance(caught.value, LookupError)


def test_integer_temperature_and_cap_are_accepted_as_numbers(tmp_path: Path) -> None:
    config, problems = load(tmp_path, "temperature = 1\nspend_cap = 2\n")
    assert problems == []
    assert config.temperature == 1.0 and isinstance(config.temperature, float)
    assert config.spend_cap == 2.0


def test_utf8_bom_is_harmless(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes("\ufefftheme = 'nord'\n".encode())
    config, problems = load_config(path)
    assert problems == [] and config.theme == "nord"


def test_multiline_system_prompt_keeps_line_numbers_right(tmp_path: Path) -> None:
    text = 'system_prompt = """\nBe brief.\nmax_tokens = 5\n"""\nmax_tokens = -1\n'
    config, problems = load(tmp_path, text)
    assert config.system_prompt == "Be brief.\nmax_tokens = 5\n"
    problem = only_problem(problems)
    assert (problem.line, problem.key) == (5, "max_tokens")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("~/exports", ("exports",)),
        ("~", ()),
        ("  ~/with space/x  ", ("with space", "x")),  # the ends trimmed, the inside kept
        ("notes/chats", ("notes", "chats")),  # relative: from the home folder, not the cwd
        ("./notes", ("notes",)),
    ],
)
def test_export_dir_is_expanded_from_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, expected: tuple[str, ...]
) -> None:
    monkeypatch.chdir(tmp_path)  # a relative path must not land here
    config, problems = load(tmp_path, f"export_dir = {value!r}\n")
    assert problems == []
    assert config.export_dir == Path.home().joinpath(*expected)
    assert config.export_dir is not None and config.export_dir.is_absolute()


def test_absolute_export_dir_is_kept_as_it_is(tmp_path: Path) -> None:
    folder = tmp_path / "somewhere" / "else"
    config, problems = load(tmp_path, f"export_dir = {str(folder)!r}\n")
    assert problems == [] and config.export_dir == folder


def test_export_dir_with_no_home_folder_is_reported_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("os.path.expanduser", lambda path: path)  # as with no HOME, no passwd
    config, problems = load(tmp_path, "theme = 'nord'\nexport_dir = '~/x'\n")
    problem = only_problem(problems)
    assert (problem.line, problem.key) == (2, "export_dir")
    assert "home folder is unknown" in problem.message
    assert config.export_dir is None and config.theme == "nord"


# --- a bad file: explained, the rest kept ----------------------------------------------------


def test_syntax_error_names_file_and_line_and_uses_defaults(tmp_path: Path) -> None:
    config, problems = load(tmp_path, 'theme = "nord"\nshow_credits = tru\n')
    problem = only_problem(problems)
    assert problem.path == tmp_path / "config.toml"
    assert problem.line == 2
    assert problem.key == "show_credits"
    assert "syntax error" in problem.message and "default" in problem.message
    assert config.theme is None  # a syntax error means all defaults
    assert str(problem).startswith(f"{tmp_path / 'config.toml'}:2: show_credits: ")


def test_syntax_error_at_end_of_file_has_a_line(tmp_path: Path) -> None:
    _, problems = load(tmp_path, "show_credits = true\nfoo = [\n")
    problem = only_problem(problems)
    assert problem.line is not None and problem.line >= 2
    assert "end of the file" in problem.message


def test_unknown_key_is_named_with_a_suggestion_and_the_rest_kept(tmp_path: Path) -> None:
    config, problems = load(tmp_path, 'theme = "nord"\ntemprature = 0.5\nmax_tokens = 10\n')
    problem = only_problem(problems)
    assert (problem.line, problem.key) == (2, "temprature")
    assert "unknown setting" in problem.message and "'temperature'" in problem.message
    assert config.theme == "nord" and config.max_tokens == 10


def test_unknown_key_in_a_profile_and_in_prices(tmp_path: Path) -> None:
    text = (
        "[gateways.local]\nkind = 'openai-compatible'\nbase_url = 'http://127.0.0.1:8/v1'\n"
        "colour = 'red'\n[gateways.local.prices.m]\ninput = 1\noutput = 2\nextra = 3\n"
    )
    config, problems = load(tmp_path, text)
    assert [(p.line, p.key) for p in problems] == [
        (4, "gateways.local.colour"),
        (8, "gateways.local.prices.m.extra"),
    ]
    assert config.profile("local").price("m") is not None


@pytest.mark.parametrize(
    ("line", "key", "expected"),
    [
        ("show_credits = 'yes'", "show_credits", "true or false"),
        ("show_provider = 1", "show_provider", "true or false"),
        ("theme = 3", "theme", "a non-empty string"),
        ("theme = ''", "theme", "a non-empty string"),
        ("default_model = []", "default_model", "a non-empty string"),
        ("system_prompt = 5", "system_prompt", "a string"),
        ("temperature = 'hot'", "temperature", "a number from 0 to 2"),
        ("temperature = 2.5", "temperature", "a number from 0 to 2"),
        ("temperature = -0.1", "temperature", "a number from 0 to 2"),
        ("temperature = nan", "temperature", "a number from 0 to 2"),
        ("temperature = true", "temperature", "a number from 0 to 2"),
        ("max_tokens = 0", "max_tokens", "a whole number above 0"),
        ("max_tokens = 1.5", "max_tokens", "a whole number above 0"),
        ("max_tokens = '100'", "max_tokens", "a whole number above 0"),
        ("spend_cap = 0", "spend_cap", "credits above 0"),
        ("spend_cap = inf", "spend_cap", "credits above 0"),
        ("spend_cap = -1", "spend_cap", "credits above 0"),
        ("default_gateway = 'nowhere'", "default_gateway", "no gateway profile"),
        ("bindings = 'f9'", "bindings", "a table"),
        ("gateways = 1", "gateways", "tables like"),
        ("export_dir = 5", "export_dir", 'a folder path such as "~/Documents/chats", got 5'),
        ("export_dir = ''", "export_dir", "a folder path such as"),
        ("export_dir = '   '", "export_dir", "a folder path such as"),
        ("export_dir = ['~/a']", "export_dir", "a folder path such as"),
        ("export_dir = false", "export_dir", "got false"),
        ("export_dir = '$HOME/chats'", "export_dir", "environment variables are not expanded"),
        ('export_dir = "a\\u0000b"', "export_dir", "NUL"),  # TOML's escape for a NUL
    ],
)
def test_wrong_type_or_out_of_range_is_named_and_defaulted(
    tmp_path: Path, line: str, key: str, expected: str
) -> None:
    config, problems = load(tmp_path, f"# settings\nmax_tokens = 7\n{line}\n")
    if key == "max_tokens":  # the same key twice is a TOML error; test it on its own
        config, problems = load(tmp_path, f"# settings\n{line}\n")
        problem = only_problem(problems)
        assert problem.line == 2
    else:
        problem = only_problem(problems)
        assert problem.line == 3
        assert config.max_tokens == 7  # the good setting is kept
    assert problem.key == key
    assert expected in problem.message
    assert getattr(config, key) == getattr(AppConfig(), key)


def test_a_key_the_scan_cannot_place_gets_no_line(tmp_path: Path) -> None:
    # "theme = 3" also appears inside a multi-line string in an array, where the key scan
    # cannot tell text from a key: found twice, it gets no line rather than a wrong one.
    text = 'system_prompt = ["""\ntheme = 3\n"""]\ntheme = 3\n'
    config, problems = load(tmp_path, text)
    assert [(p.line, p.key) for p in problems] == [(None, "theme"), (1, "system_prompt")]
    assert config.theme is None and config.system_prompt is None


def test_several_problems_each_reported_in_line_order(tmp_path: Path) -> None:
    text = "spend_cap = -2\ntheme = 'nord'\nshow_credits = 'no'\nbogus = 1\n"
    config, problems = load(tmp_path, text)
    assert [(p.line, p.key) for p in problems] == [
        (1, "spend_cap"),
        (3, "show_credits"),
        (4, "bogus"),
    ]
    assert config.theme == "nord"


def test_bad_bindings_are_skipped_one_by_one(tmp_path: Path) -> None:
    text = "[bindings]\nstop = 'f9'\nBad-Id = 'f1'\npause = 3\nretry = 'ctrl r'\nquit = ''\n"
    config, problems = load(tmp_path, text)
    assert dict(config.bindings) == {"stop": "f9"}
    assert [p.key for p in problems] == [
        "bindings.Bad-Id",
        "bindings.pause",
        "bindings.retry",
        "bindings.quit",
    ]


def test_unknown_binding_ids_are_listed(tmp_path: Path) -> None:
    config, problems = load(tmp_path, "[bindings]\nstop = 'f9'\nfly = 'f1'\n")
    assert problems == []
    assert config.unknown_binding_ids() == ["fly"]


def test_bindings_and_theme_checked_against_what_the_app_knows(tmp_path: Path) -> None:
    text = "theme = 'nrod'\n[bindings]\nstop = 'f9'\nstpo = 'f1'\nfly = 'f2'\n"
    config, problems = load_config(
        write(tmp_path, text), binding_ids={"stop", "pause"}, themes={"nord", "textual-dark"}
    )
    assert dict(config.bindings) == {"stop": "f9"}
    assert config.theme is None
    assert [(p.line, p.key) for p in problems] == [
        (1, "theme"),
        (4, "bindings.stpo"),
        (5, "bindings.fly"),
    ]
    assert "did you mean 'nord'?" in problems[0].message
    assert "did you mean 'stop'?" in problems[1].message
    # Without the lists nothing is checked (the plain Agent has no bindings or themes).
    config, problems = load_config(write(tmp_path, text))
    assert problems == [] and config.theme == "nrod" and "fly" in config.bindings


@pytest.mark.parametrize(
    ("binding_id", "key", "says"),
    [
        ("quit", "a", "types 'a'"),  # typing "banana" in the prompt quit the app
        ("stop", "shift+x", "types 'x'"),
        ("quit", "space", "types ' '"),
        ("conversations_delete", "d", "types 'd'"),  # the search field has the focus there
        ("quit", "f9,.", "types '.'"),  # one bad key of a list is enough
        ("quit", "ctrl+shift+alt+meta+hyper+f99", "'f99' is no key"),
        ("quit", "win+q", "'win' is no modifier"),
        ("quit", "ctrl+ctrl+q", "'ctrl' twice"),
        ("quit", "ctrl+.", "it names that key ctrl+full_stop"),
        ("quit", "shift+ctrl+q", "it names that key ctrl+shift+q"),  # never matched as written
    ],
)
def test_a_key_that_types_or_that_textual_never_names_is_refused(
    tmp_path: Path, binding_id: str, key: str, says: str
) -> None:
    from tui_chat.ui.key_names import key_problem

    path = write(tmp_path, f"theme = 'nord'\n[bindings]\nretry = 'f9'\n{binding_id} = '{key}'\n")
    config, problems = load_config(path, binding_ids=BINDING_IDS, key_problem=key_problem)
    problem = only_problem(problems)
    assert (problem.line, problem.key) == (4, f"bindings.{binding_id}")
    assert str(problem).startswith(f"{path}:4: bindings.{binding_id}: ")
    assert says in problem.message and f"{DEFAULT_KEYS[binding_id]} stays" in problem.message
    assert dict(config.bindings) == {"retry": "f9"}  # the default key stays, the rest applies


def test_keys_with_ctrl_or_alt_and_named_keys_are_accepted(tmp_path: Path) -> None:
    from tui_chat.ui.key_names import key_problem

    text = (
        "[bindings]\nquit = 'f12'\nstop = 'ctrl+k'\npause = 'alt+p'\nretry = 'escape,tab'\n"
        "settings = 'ctrl+shift+up'\nnew_conversation = 'super+n'\n"
        "clear_history = 'ctrl+full_stop'\n"
    )
    config, problems = load_config(
        write(tmp_path, text), binding_ids=BINDING_IDS, key_problem=key_problem
    )
    assert problems == []
    assert config.bindings["quit"] == "f12" and config.bindings["pause"] == "alt+p"
    assert len(config.bindings) == 7


def test_profile_with_unknown_kind_is_skipped_not_guessed(tmp_path: Path) -> None:
    text = "default_gateway = 'x'\n[gateways.x]\nkind = 'unfy'\n"
    config, problems = load(tmp_path, text)
    assert "x" not in config.gateways
    assert config.default_gateway == "unify"
    assert [(p.line, p.key) for p in problems] == [(1, "default_gateway"), (3, "gateways.x.kind")]
    assert "has errors" in problems[0].message


def test_openai_compatible_profile_needs_a_base_url(tmp_path: Path) -> None:
    config, problems = load(tmp_path, "[gateways.local]\nkind = 'openai-compatible'\n")
    problem = only_problem(problems)
    assert problem.key == "gateways.local.base_url" and "required" in problem.message
    assert "local" not in config.gateways


def test_bad_base_url_is_named(tmp_path: Path) -> None:
    config, problems = load(tmp_path, "[gateways.unify]\nbase_url = 'ftp://x'\n")
    problem = only_problem(problems)
    assert (problem.line, problem.key) == (2, "gateways.unify.base_url")
    assert config.profile("unify").base_url == "https://api.unify.ai/v0"


def test_prices_only_for_openai_compatible(tmp_path: Path) -> None:
    _, problems = load(tmp_path, "[gateways.unify.prices.m]\ninput = 1\noutput = 1\n")
    assert only_problem(problems).key == "gateways.unify.prices"


def test_price_missing_a_half_is_ignored(tmp_path: Path) -> None:
    text = (
        "[gateways.l]\nkind = 'openai-compatible'\nbase_url = 'http://127.0.0.1:1/v1'\n"
        "[gateways.l.prices.m]\ninput = 1\n"
    )
    config, problems = load(tmp_path, text)
    assert "missing output" in only_problem(problems).message
    assert config.profile("l").price("m") is None


def test_not_utf8_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"theme = 'nord'\ntheme2 = '\xff'\n")
    config, problems = load_config(path)
    problem = only_problem(problems)
    assert problem.line == 2 and "UTF-8" in problem.message
    assert config == AppConfig()


def test_directory_instead_of_file(tmp_path: Path) -> None:
    config, problems = load_config(tmp_path)
    assert "directory" in only_problem(problems).message
    assert config == AppConfig()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs POSIX, not root")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, "theme = 'nord'\n")
    path.chmod(0)
    config, problems = load_config(path)
    assert "permission denied" in only_problem(problems).message
    assert config == AppConfig()


def test_absurd_nesting_does_not_crash(tmp_path: Path) -> None:
    config, problems = load(tmp_path, "x = " + "[" * 5000 + "]" * 5000 + "\n")
    assert config == AppConfig()
    assert len(problems) == 1


def test_problem_string_shows_home_as_tilde(tmp_path: Path) -> None:
    home = Path.home()
    problem = ConfigProblem(home / "x" / "config.toml", 3, "theme", "bad")
    assert str(problem) == f"{Path('~') / 'x' / 'config.toml'}:3: theme: bad"
    assert str(ConfigProblem(tmp_path / "c.toml", None, None, "m")) == f"{tmp_path / 'c.toml'}: m"


# --- secrets in config.toml ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f'api_key = "{SECRET}"\n',
        f'unify_key = "{SECRET}"\n',
        f'[keys]\nunify = "{SECRET}"\n',
        f'[gateways.unify]\nkey = "{SECRET}"\n',
        f'[gateways.unify]\nkey_env = "{SECRET}"\n',
        f'[gateways.unify]\napi_key = "{SECRET}"\n',
        f'theme = "{SECRET}"\n',
        f'default_model = "{SECRET}"\n',
        f'[gateways.unify]\ndefault_model = "Bearer {SECRET}"\n',
        f"temperature = '{SECRET}'\n",
        f"show_credits = '{SECRET}'\n",
        f"[bindings]\nstop = ['{SECRET}', 3]\n",
        f'export_dir = "{SECRET}"\n',
    ],
)
def test_secret_looking_values_are_refused_and_never_echoed(tmp_path: Path, text: str) -> None:
    config, problems = load(tmp_path, text)
    assert problems, "a key in config.toml must be reported"
    for problem in problems:
        assert SECRET not in str(problem)
        assert SECRET[5:25] not in str(problem)
    assert SECRET not in repr(config)
    assert config.theme is None and config.default_model is None


def test_key_advice_says_where_keys_go(tmp_path: Path) -> None:
    _, problems = load(tmp_path, f'api_key = "{SECRET}"\n')
    message = only_problem(problems).message
    assert "don't belong in config.toml" in message and "keyring" in message


# --- property tests: no exception, ever ------------------------------------------------------


def _schema_keys() -> list[str]:
    import msgspec

    from tui_chat.config.schema import ConfigFile, PriceTable, ProfileTable

    return [
        info.name
        for struct in (ConfigFile, ProfileTable, PriceTable)
        for info in msgspec.structs.fields(struct)
    ]


# Every key config.toml knows (from the schema, so a new key is fuzzed too), some profile
# names, a key that does not belong there, and random words.
_keys = st.sampled_from(
    list(dict.fromkeys([*_schema_keys(), "stop", "unify", "local", "api_key"]))
) | st.text(min_size=1, max_size=8)
_scalars = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["unify", "openrouter", "openai-compatible", "demo", "http://127.0.0.1/v1"])
)
_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_keys, children, max_size=4),
    max_leaves=12,
)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        from tui_chat.config import toml_string

        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    assert isinstance(value, dict)
    from tui_chat.config import toml_key

    return "{" + ", ".join(f"{toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def _toml_document(document: dict[str, object]) -> str:
    """Top-level scalars first, then tables as [headers] (so line numbers get exercised)."""
    from tui_chat.config import toml_key

    lines = [f"{toml_key(k)} = {_toml_value(v)}" for k, v in document.items() if not _table(v)]
    for key, value in document.items():
        if _table(value):
            assert isinstance(value, dict)
            lines.append(f"[{toml_key(key)}]")
            lines.extend(f"{toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
    return "\n".join(lines) + "\n"


def _table(value: object) -> bool:
    return isinstance(value, dict)


_hypothesis = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_hypothesis
@given(document=st.dictionaries(_keys, _values, max_size=8))
def test_random_toml_documents_never_raise(tmp_path: Path, document: dict[str, object]) -> None:
    text = _toml_document(document)
    tomllib.loads(text)  # the generator makes valid TOML
    config, problems = load(tmp_path, text)
    assert isinstance(config, AppConfig)
    for problem in problems:
        assert isinstance(problem, ConfigProblem)
        assert problem.path == tmp_path / "config.toml"
        str(problem)
        assert problem.line is None or 1 <= problem.line <= text.count("\n") + 1
    assert config.default_gateway in config.gateways


@_hypothesis
@given(data=st.binary(max_size=400))
def test_random_bytes_never_raise(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(data)
    config, problems = load_config(path)
    assert isinstance(config, AppConfig)
    for problem in problems:
        str(problem)


_toml_alphabet = st.sampled_from([*"[]{}=.,\"'#\n \t-_abckeyst0129+:\\", '"""', "'''"])


@_hypothesis
@given(pieces=st.lists(_toml_alphabet, max_size=80), prefix=st.sampled_from(["", FULL]))
def test_random_toml_like_text_never_raises(tmp_path: Path, pieces: list[str], prefix: str) -> None:
    config, problems = load(tmp_path, prefix + "".join(pieces))
    assert isinstance(config, AppConfig)
    for problem in problems:
        str(problem)


# --- the template and private files ----------------------------------------------------------


def test_template_is_valid_toml_and_loads_as_the_defaults(tmp_path: Path) -> None:
    text = default_config_text()
    assert tomllib.loads(text) == {}  # everything commented out
    config, problems = load(tmp_path, text)
    assert problems == [] and config == AppConfig()
    for binding_id in DEFAULT_KEYS:  # every remappable binding, the screens' too
        assert f"#{binding_id} = " in text


def test_template_uncommented_is_a_valid_config(tmp_path: Path) -> None:
    lines = []
    for line in default_config_text().splitlines():
        if line.startswith("#") and not line.startswith(("# ", "#\t")) and line != "#":
            line = line[1:]
        lines.append(line)
    config, problems = load(tmp_path, "\n".join(lines) + "\n")
    assert problems == [], [str(p) for p in problems]
    assert config.temperature == 0.7 and config.spend_cap == 1.0
    assert config.export_dir == Path.home() / "Documents" / "unify-tui"
    assert "local" in config.gateways
    assert dict(config.bindings) == dict(DEFAULT_KEYS)


def test_the_schema_and_the_records_name_the_same_settings() -> None:
    import dataclasses

    import msgspec

    from tui_chat.config.schema import ConfigFile, ProfileTable

    def schema(struct: type[msgspec.Struct]) -> list[str]:
        return [info.name for info in msgspec.structs.fields(struct)]

    def record(cls: type) -> list[str]:
        return [item.name for item in dataclasses.fields(cls)]

    assert schema(ConfigFile) == [name for name in record(AppConfig) if name != "path"]
    assert schema(ProfileTable) == [name for name in record(GatewayProfile) if name != "name"]


def test_importing_the_config_does_not_import_msgspec() -> None:
    import subprocess
    import sys

    code = (
        "import sys, tui_chat.config as c\n"
        "c.load_config(c.default_config_path().with_name('missing.toml'))\n"
        "assert 'msgspec' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_write_default_config_is_private_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    assert write_default_config(path) == path
    assert path.read_text() == default_config_text()
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with pytest.raises(FileExistsError):
        write_default_config(path)
    path.write_text("theme = 'x'\n")
    write_default_config(path, overwrite=True)
    assert path.read_text() == default_config_text()


def test_write_private_file_replaces_without_widening(tmp_path: Path) -> None:
    path = tmp_path / "f.toml"
    write_private_file(path, "a = 1\n")
    write_private_file(path, "a = 2\n")
    assert path.read_text() == "a = 2\n"
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["f.toml"]  # no temporary left behind


def test_gateway_profile_validates_itself() -> None:
    with pytest.raises(ValueError, match="base_url"):
        GatewayProfile("x", "openai-compatible")
    with pytest.raises(ValueError, match="kind"):
        GatewayProfile("x", "nope")  # type: ignore[arg-type]
    assert GatewayProfile("d", "demo", key_env="X").key_env == ""


def test_a_local_profile_can_say_that_it_needs_a_key_and_how_long_to_wait(tmp_path: Path) -> None:
    config, problems = load(
        tmp_path,
        "[gateways.proxy]\nkind = 'openai-compatible'\nbase_url = 'http://127.0.0.1:4000/v1'\n"
        "needs_key = true\n[gateways.local]\nkind = 'openai-compatible'\n"
        "base_url = 'http://127.0.0.1:11434/v1'\nread_timeout = 300\n",
    )
    assert problems == []
    assert config.gateways["proxy"].needs_key is True
    assert config.gateways["local"].needs_key is None
    # and a slow local model can be given longer to answer
    assert config.gateways["local"].read_timeout == 300
    assert config.gateways["proxy"].read_timeout is None
    assert connect(config.gateways["local"], None).gateway.settings.timeout == 300
    assert connect(config.gateways["proxy"], "k").gateway.settings.timeout == 60
    _, problems = load(
        tmp_path,
        "[gateways.proxy]\nkind = 'openai-compatible'\nbase_url = 'http://127.0.0.1:4000/v1'\n"
        "needs_key = 'yes'\n",
    )
    assert "true or false" in only_problem(problems).message
