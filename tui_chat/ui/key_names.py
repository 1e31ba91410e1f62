"""Whether a key from config.toml ``[bindings]`` can work: a name Textual produces, and not a
character the user types.

Textual matches a binding by the exact name its input parser gives a key press. A name it never
gives (``f99``, ``hyper+shift+ctrl+x`` in the wrong order, ``.`` after a modifier) is a binding
that can never fire; a plain character (``a``, ``shift+x``, ``space``) fires on text typed in the
prompt or a dialog's field, so ``quit = "a"`` quit on the first "a" of "banana". The command line
asks here before the app starts, so that it never imports Textual itself.

The names come from Textual: its ``Keys`` names, the keyboard protocol's functional keys, and
``_character_to_key`` for characters. The modifiers are those its parser adds
(``textual._xterm_parser``: shift, alt, ctrl, super, hyper, meta), always joined in sorted order.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Final

MODIFIERS: Final = ("alt", "ctrl", "hyper", "meta", "shift", "super")  # the order Textual joins
_TEXT_MODIFIERS: Final = frozenset({"shift"})  # a character with only these is still typed text


@cache
def _named_keys() -> frozenset[str]:
    """Every key name (without modifiers) Textual gives a key that is not a character."""
    from textual._keyboard_protocol import FUNCTIONAL_KEYS
    from textual.keys import Keys

    names = {key.value.rpartition("+")[2] for key in Keys if not key.value.startswith("<")}
    return frozenset(names | set(FUNCTIONAL_KEYS.values()))


def character_of(name: str) -> str | None:
    """The printable character a key name stands for (``a``, ``full_stop``, ``minus``), if any."""
    from textual.keys import KEY_TO_UNICODE_NAME, REPLACED_KEYS

    if len(name) == 1:
        return name if name.isprintable() else None
    original = REPLACED_KEYS.get(name, name)
    try:
        character = unicodedata.lookup(
            KEY_TO_UNICODE_NAME.get(original, original.replace("_", " ").upper())
        )
    except KeyError:
        return None
    return character if len(character) == 1 and character.isprintable() else None


def _textual_name(character: str) -> str:
    from textual.keys import _character_to_key

    return _character_to_key(character)


def key_problem(key: str) -> str | None:
    """What is wrong with one key name for a binding (``None``: it is fine).

    ``key`` as config.toml spells it, one of a comma-separated list; a lone character is named
    as Textual names it (``.`` is ``full_stop``) before the check, as Textual's keymap does.
    A typed character is refused for every binding: each scope of the bindings table has a text
    field with the focus (the prompt, the conversation search, the settings' fields, the key
    and text dialogs).
    """
    given = key
    if len(key) == 1:
        key = _textual_name(key)
    *modifiers, base = key.split("+")
    character = character_of(base)
    known = base in _named_keys() or (character is not None and _textual_name(character) == base)
    if not known:
        if character is not None and len(base) == 1:
            named = "+".join([*modifiers, _textual_name(base)])
            return f"{given!r} is not a key name Textual uses; it names that key {named}"
        return f"{given!r} is not a key name Textual uses ({base!r} is no key)"
    for modifier in modifiers:
        if modifier not in MODIFIERS:
            return (
                f"{given!r} is not a key name Textual uses ({modifier!r} is no modifier; "
                f"they are {', '.join(MODIFIERS)})"
            )
        if modifiers.count(modifier) > 1:
            return f"{given!r} is not a key name Textual uses ({modifier!r} twice)"
    if modifiers != sorted(modifiers):
        named = "+".join([*sorted(modifiers), base])
        return f"{given!r} is not a key name Textual uses; it names that key {named}"
    if character is not None and set(modifiers) <= _TEXT_MODIFIERS:
        return (
            f"{given!r} types {character!r}: it would act on text typed in the prompt or a "
            "dialog instead of typing it; use a key with ctrl or alt, or an F-key"
        )
    return None


def display_key(key: str) -> str:
    """A key name as shown to the user: ``escape`` as ``esc``, ``full_stop`` as ``.``."""
    from textual.keys import format_key

    *modifiers, base = key.split("+")
    return "+".join([*modifiers, format_key(base)])
