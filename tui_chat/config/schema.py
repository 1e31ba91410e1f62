"""What config.toml may say: every setting, its type and limits, and what it is for.

This is the one declaration of the file. ``tui_chat.config.checking`` checks a file against it
key by key (so one bad key costs only that key), and ``tui_chat.config.template`` writes the
commented template from it. The defaults are not here: a key the file leaves out is UNSET and
keeps the default of ``AppConfig`` / ``GatewayProfile`` (``tui_chat.config.records``).

A value type carries msgspec's own checks (``ge``, ``pattern``...) and, in ``Meta.extra``, the
words a problem uses:

- ``expected``: what was wanted ("expected <this>, got 5"), or ``problem``: the whole message
  (``{got}``: the value found, ``{path}``: the key, ``{key_env}``: the kind's key variable);
- ``refuse_keys``: a value that is plainly an API key (``sk-...``) is refused with advice on
  where keys go, and never echoed;
- ``missing``: for a table with required keys, the message when some are missing.

A field's ``doc(...)`` is its comment in the template, and the value shown there when the
default is "not set".

Adding a setting: a field here, the same field on ``AppConfig`` with its default, and a line in
``checking._settings`` to carry it over (and check what its type cannot say).
"""

import sys
from typing import Annotated, TypeAlias, TypeVar

import msgspec
from msgspec import UNSET, Meta, UnsetType

from tui_chat.config.records import (
    DEFAULT_BASE_URLS,
    DEFAULT_KEY_ENVS,
    DEFAULT_MODEL,
    GATEWAY_KINDS,
    GatewayKind,
)

_T = TypeVar("_T")
Maybe: TypeAlias = _T | UnsetType  # a key the file may leave out
"""``Maybe[X]``: X, or UNSET when the file does not have the key."""


def doc(description: str, *examples: object) -> Meta:
    """A field's comment in the template and, when its default is "not set", the example."""
    return Meta(description=description, examples=list(examples) or None)


_FINITE = sys.float_info.max  # msgspec has no "finite" bound; this keeps inf out

Flag = Annotated[bool, Meta(extra={"expected": "true or false"})]
Text = Annotated[
    str, Meta(pattern=r"\S", extra={"expected": "a non-empty string", "refuse_keys": True})
]
AnyText = Annotated[str, Meta(extra={"expected": "a string", "refuse_keys": True})]
Temperature = Annotated[float, Meta(ge=0, le=2, extra={"expected": "a number from 0 to 2"})]
MaxTokens = Annotated[int, Meta(gt=0, extra={"expected": "a whole number above 0"})]
Seconds = Annotated[
    float, Meta(gt=0, le=3600, extra={"expected": "a number of seconds above 0, at most 3600"})
]
Credits = Annotated[
    float, Meta(gt=0, le=_FINITE, extra={"expected": "a number of credits above 0"})
]
Percent = Annotated[
    float, Meta(gt=0, le=100, extra={"expected": "a percentage above 0, at most 100"})
]
Folder = Annotated[
    str,
    Meta(
        pattern=r"\S",
        extra={
            "problem": 'expected a folder path such as "~/Documents/chats", got {got}; '
            "exporting to the default folder",
            "refuse_keys": True,
        },
    ),
]

_ONE_KEY = r"[^\s,]+"
_KEY_LIST = rf"\A\s*{_ONE_KEY}(\s*,\s*{_ONE_KEY})*\s*\Z"  # "ctrl+s" or "f9, ctrl+p"
Keys = Annotated[str, Meta(pattern=_KEY_LIST)]
BindingKeys = Annotated[
    Keys | Annotated[list[Keys], Meta(min_length=1)],
    Meta(extra={"expected": 'keys like "ctrl+s" or "f9,ctrl+p"'}),
]
BindingId = Annotated[
    str,
    Meta(
        pattern=r"\A[a-z_]+\Z",
        extra={"problem": "binding ids are lower-case letters and '_' (like toggle_panel)"},
    ),
]

ProfileName = Annotated[
    str,
    Meta(
        pattern=r"\A[A-Za-z0-9_-]+\Z",
        extra={"problem": "profile names use letters, digits, '-' and '_'"},
    ),
]
Kind = Annotated[GatewayKind, Meta(extra={"expected": f"one of {', '.join(GATEWAY_KINDS)}"})]
BaseUrl = Annotated[str, Meta(extra={"expected": "an http(s) URL like http://localhost:11434/v1"})]
KeyEnv = Annotated[
    str,
    Meta(
        pattern=r"\A([A-Za-z_][A-Za-z0-9_]*)?\Z",
        # Never echo the value: a pasted key is the likeliest mistake here.
        extra={
            "problem": "expected the name of an environment variable such as {key_env} "
            "(not the key itself)"
        },
    ),
]
Price = Annotated[
    float,
    Meta(ge=0, le=_FINITE, extra={"expected": "$ per million tokens (a number, 0 or more)"}),
]


class PriceTable(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``[gateways.<name>.prices."<model>"]``: one model's price, to estimate costs."""

    input: Annotated[Price, doc("$ per million prompt tokens")]
    output: Annotated[Price, doc("$ per million completion tokens")]


Prices = dict[
    str,
    Annotated[
        PriceTable,
        Meta(
            extra={
                "expected": "input = <$ per million tokens>, output = <$ per million tokens>",
                "missing": "missing {names} ($ per million tokens); price ignored",
            }
        ),
    ],
]


class ProfileTable(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``[gateways.<name>]``: a gateway profile, or changes to a built-in one."""

    kind: Annotated[
        Maybe[Kind],
        doc(
            "unify (default) | openrouter | openai-compatible | demo. A kind the app does not "
            "know skips the profile: a key is never sent somewhere not meant."
        ),
    ] = UNSET
    base_url: Annotated[
        Maybe[BaseUrl],
        doc(
            "Where the gateway is. Defaults per kind ("
            + ", ".join(f"{kind}: {url}" for kind, url in DEFAULT_BASE_URLS.items())
            + "); openai-compatible needs one."
        ),
    ] = UNSET
    key_env: Annotated[
        Maybe[KeyEnv],
        doc(
            "The environment variable holding the key ("
            + ", ".join(DEFAULT_KEY_ENVS.values())
            + ' by kind; "" for none). Never the key itself.'
        ),
    ] = UNSET
    default_model: Annotated[
        Maybe[Text], doc("The model to start with on this gateway (wins over the global one).")
    ] = UNSET
    needs_key: Annotated[
        Maybe[Flag],
        doc(
            "Ask for a key when none is found. Defaults to true, but false for an "
            "openai-compatible server on this machine (Ollama, llama.cpp); set true for one "
            "that checks keys (a LiteLLM proxy with a master key)."
        ),
    ] = UNSET
    read_timeout: Annotated[
        Maybe[Seconds],
        doc(
            "Seconds to wait for the next piece of a reply (or for the answer to begin) before "
            "giving up on it. Default 60; a slow local model may need more.",
            120,
        ),
    ] = UNSET
    daily_budget: Annotated[
        Maybe[Credits],
        doc("Credits (USD) to spend per day through this gateway; unset: no limit.", 2.0),
    ] = UNSET
    monthly_budget: Annotated[
        Maybe[Credits],
        doc("Credits (USD) to spend per calendar month through this gateway.", 30.0),
    ] = UNSET
    low_balance: Annotated[
        Maybe[Credits],
        doc("Warn once when this gateway's balance falls below this many credits.", 5.0),
    ] = UNSET
    prices: Annotated[
        Prices,
        doc(
            "openai-compatible only: $ per million tokens per model, to estimate costs "
            "(always shown as an estimate)."
        ),
        Meta(extra={"expected": 'tables like [{path}."model"]'}),
    ] = msgspec.field(default_factory=dict)


_EXAMPLE_GATEWAYS = {
    "openrouter": {
        "kind": "openrouter",
        "key_env": "OPENROUTER_API_KEY",
        "default_model": "openai/gpt-4o-mini",
    },
    "local": {
        "kind": "openai-compatible",
        "base_url": "http://localhost:11434/v1",
        "key_env": "OPENAI_API_KEY",
        "default_model": "llama3.1:8b",
        "prices": {"llama3.1:8b": {"input": 0.0, "output": 0.0}},
    },
}


class ConfigFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The whole of config.toml. Every key is optional."""

    default_gateway: Annotated[
        Maybe[Text],
        doc(
            "The gateway profile to start on (a name under [gateways], or a built-in: unify, "
            "openrouter, demo)."
        ),
    ] = UNSET
    default_model: Annotated[
        Maybe[Text],
        doc(
            "The model to start with, as an endpoint string (model@provider); a profile's own "
            "default_model wins over this.",
            DEFAULT_MODEL,
        ),
    ] = UNSET
    show_credits: Annotated[Maybe[Flag], doc("Show the cost of each reply and the balance.")] = (
        UNSET
    )
    show_provider: Annotated[Maybe[Flag], doc("Show the provider that served each reply.")] = UNSET
    theme: Annotated[
        Maybe[Text],
        doc(
            "A Textual theme name (e.g. textual-dark, textual-light, nord, gruvbox).",
            "textual-dark",
        ),
    ] = UNSET
    system_prompt: Annotated[
        Maybe[AnyText],
        doc(
            "Sent as the system message at the start of every conversation.",
            "You are a helpful assistant.",
        ),
    ] = UNSET
    temperature: Annotated[
        Maybe[Temperature], doc("Sampling temperature, 0 to 2 (unset: the model's default).", 0.7)
    ] = UNSET
    max_tokens: Annotated[
        Maybe[MaxTokens],
        doc(
            "The most tokens a reply may have (a whole number above 0; unset: the model's "
            "default).",
            1024,
        ),
    ] = UNSET
    spend_cap: Annotated[
        Maybe[Credits],
        doc(
            "Stop sending once a conversation has cost this many credits (USD); unset: no cap.",
            1.0,
        ),
    ] = UNSET
    daily_budget: Annotated[
        Maybe[Credits],
        doc(
            "Credits (USD) to spend per day over every gateway and conversation; the status "
            "bar shows the day's spend against it, and sending stops at it (with a one-time "
            "'Send anyway'). Unset: no limit. A [gateways.NAME] table may set its own.",
            5.0,
        ),
    ] = UNSET
    monthly_budget: Annotated[
        Maybe[Credits],
        doc("Credits (USD) to spend per calendar month over every gateway; unset: no limit.", 50.0),
    ] = UNSET
    budget_warning: Annotated[
        Maybe[Percent],
        doc("From how much of a budget (percent) the status bar warns. Default 80.", 80),
    ] = UNSET
    low_balance: Annotated[
        Maybe[Credits],
        doc(
            "Warn once (status bar and a notification) when a gateway's balance falls below "
            "this many credits; unset: no warning. A [gateways.NAME] table may set its own.",
            5.0,
        ),
    ] = UNSET
    export_dir: Annotated[
        Maybe[Folder],
        doc(
            'The folder "Export conversation as Markdown/JSON" writes to; created when first '
            "needed. ~ is your home folder, and a relative path is taken from your home folder "
            "too. Unset: unify-tui in your Documents folder (--export-dir PATH wins over this).",
            "~/Documents/unify-tui",
        ),
    ] = UNSET
    bindings: Annotated[
        dict[BindingId, BindingKeys],
        doc('Key bindings: binding id = "key" or "key,other_key" (Textual key names).'),
        Meta(extra={"expected": "a table ([bindings])"}),
    ] = msgspec.field(default_factory=dict)
    gateways: Annotated[
        dict[ProfileName, Annotated[ProfileTable, Meta(extra={"expected": "a table ([{path}])"})]],
        doc(
            "Gateway profiles. unify, openrouter and demo always exist; a table here adds a "
            "profile or overrides one.",
            _EXAMPLE_GATEWAYS,
        ),
        Meta(extra={"expected": "tables like [gateways.local]"}),
    ] = msgspec.field(default_factory=dict)
