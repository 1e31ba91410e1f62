"""Simulated replies: deterministic, plainly simulated, and built from the whole conversation.

The reply to a conversation depends only on the messages and the sim's seed, never on the model,
the time or earlier requests, so the same history always gets the same reply. What it can do:

* remember facts the user stated in any earlier user turn (name, age, where they live or come
  from, job, likes, and any "my <thing> is <value>") and answer questions about them
  ("How old am I?", "What is my name?", "What is my favourite colour?", "What do you know about
  me?", "What did I just say?", "Summarise our conversation");
* greet back on an introduction ("Nice to meet you too, Foo! ..."), answer capitals
  ("The capital of Spain is Madrid."), small arithmetic, thanks, greetings, jokes;
* write a short poem using the user's name and place ("... my life in Lisbon, using my name");
* produce long Markdown (headings, lists, a table, several fenced code blocks with languages)
  when the request mentions markdown, code, a table, a snippet, a long answer and so on, or when
  the ``markdown`` control is on. ``fit_tokens`` pads or cuts a reply to an exact token count.

Tokens are small word-ish pieces (``tokenize``): a run of up to 7 letters or 3 digits or one
other character, with the whitespace before it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_TOKEN_RE = re.compile(r"\s*(?:[A-Za-z]{1,7}|[0-9]{1,3}|[^\sA-Za-z0-9])|\s+")


def tokenize(text: str) -> list[str]:
    """Split ``text`` into word-ish tokens whose concatenation is exactly ``text``."""
    return _TOKEN_RE.findall(text)


def message_text(content: Any) -> str:
    """The text of an OpenAI message ``content``: a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            str(part.get("text", ""))
            for part in content
            if isinstance(part, Mapping) and part.get("type", "text") == "text"
        ]
        return "\n".join(texts)
    return ""


def estimate_prompt_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    """Prompt tokens estimated from the characters: about 4 per token plus 4 per message."""
    chars = sum(len(message_text(message.get("content"))) for message in messages)
    return max(1, round(chars / 4)) + 4 * len(messages) + 3


def _stable_number(*parts: object) -> int:
    text = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=True)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


# --- facts -------------------------------------------------------------------------------------

_CLAUSE_SPLIT = re.compile(r",\s*(?:and|but|so)\s+|\s+(?:and|but|so)\s+|[.!?;,\n]+")
_NAME_WORD = re.compile(r"^[^\W\d_][\w'.-]*$")
_NAME_STOPWORDS = frozenset(
    {"and", "but", "i", "im", "i'm", "so", "from", "who", "aged", "age", "the", "a", "an", "by"}
)
_NAME_PATTERNS = (
    re.compile(r"\bmy name is\s+(.+)$", re.IGNORECASE),
    re.compile(r"\bmy name's\s+(.+)$", re.IGNORECASE),
    re.compile(r"\b(?:you can |please )?call me\s+(.+)$", re.IGNORECASE),
    re.compile(r"\bi(?: am|'m) called\s+(.+)$", re.IGNORECASE),
)
_AGE_PATTERNS = (
    re.compile(r"\bi(?: am|'m|m)\s+(\d{1,3})\b(?!\s*(?:%|percent|kg|km|cm|lbs?|minutes?))", re.I),
    re.compile(r"\b(\d{1,3})\s*(?:years?|yrs?)\s*old\b", re.IGNORECASE),
    re.compile(r"\bmy age is\s+(\d{1,3})\b", re.IGNORECASE),
)
_LOCATION_PATTERNS = (
    re.compile(r"\bi (?:live|am living|'m living|reside|stay|am based|'m based) in\s+(.+)$", re.I),
    re.compile(r"\bi (?:just )?(?:moved|relocated) to\s+(.+)$", re.IGNORECASE),
)
_ORIGIN_PATTERN = re.compile(r"\b(?:i am|i'm|i come|i came) from\s+(.+)$", re.IGNORECASE)
_JOB_PATTERNS = (
    re.compile(r"\bi (?:work|am working|'m working) as (?:an? |the )?(.+)$", re.IGNORECASE),
    re.compile(r"^(?:.*\s)?i(?: am|'m) an? ([a-z-]+)$", re.IGNORECASE),
)
_JOB_STOPWORDS = frozenset(
    {"bit", "little", "big", "fan", "lot", "person", "human", "user", "student of", "huge"}
)
_LIKE_PATTERN = re.compile(
    r"\bi (?:really |also )?(?:like|love|enjoy|adore)\s+(?!you\b|it\b|that\b|this\b)(.+)$",
    re.IGNORECASE,
)
_GENERIC_PATTERN = re.compile(
    r"\bmy ((?:[a-z'-]+\s+){0,3}?[a-z'-]+)\s+(?:is|are|was)\s+(.+)$", re.IGNORECASE
)
_KEY_SYNONYMS = {
    "favourite": "favorite",
    "colour": "color",
    "flavour": "flavor",
    "hometown": "home town",
}
_SPECIAL_KEYS = {
    "name": "name",
    "age": "age",
    "job": "job",
    "occupation": "job",
    "profession": "job",
    "home town": "origin",
    "city": "location",
    "home": "location",
}


def _normalise(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'")


def _normal_key(key: str) -> str:
    words = [_KEY_SYNONYMS.get(word, word) for word in key.lower().split()]
    return " ".join(words)


def _clean_name(raw: str) -> str | None:
    words: list[str] = []
    for word in raw.split():
        word = word.strip(".'\"")
        if not word or word.lower() in _NAME_STOPWORDS or not _NAME_WORD.match(word):
            break
        if words and words[0][0].isupper() and not word[0].isupper():
            break
        words.append(word)
        if len(words) == 4:
            break
    if not words:
        return None
    name = " ".join(words)
    return name.title() if name.islower() else name


def _clean_place(raw: str) -> str | None:
    words: list[str] = []
    for word in raw.split():
        word = word.strip(".'\"")
        if not word or not _NAME_WORD.match(word):
            break
        if words and not word[0].isupper():
            break
        words.append(word)
        if len(words) == 3:
            break
    if not words:
        return None
    place = " ".join(words)
    return place.title() if place.islower() else place


def _clean_value(raw: str) -> str:
    return raw.strip().strip("\"'").strip()


@dataclass
class Facts:
    """What the user said about themselves, with the user turn (0-based) each came from."""

    values: dict[str, tuple[str, int]] = field(default_factory=dict)
    likes: list[str] = field(default_factory=list)

    def get(self, key: str) -> str | None:
        found = self.values.get(key)
        return found[0] if found else None

    def turn(self, key: str) -> int | None:
        found = self.values.get(key)
        return found[1] if found else None

    def first_name(self) -> str | None:
        name = self.get("name")
        return name.split()[0] if name else None


def extract_facts(text: str) -> tuple[dict[str, str], list[str]]:
    """The facts stated in one user message, and the things the user says they like."""
    found: dict[str, str] = {}
    likes: list[str] = []
    for clause in _CLAUSE_SPLIT.split(_normalise(text)):
        clause = clause.strip()
        if not clause:
            continue
        for pattern in _NAME_PATTERNS:
            if (match := pattern.search(clause)) and (name := _clean_name(match.group(1))):
                found["name"] = name
                break
        for pattern in _AGE_PATTERNS:
            if match := pattern.search(clause):
                found["age"] = match.group(1)
                break
        for pattern in _LOCATION_PATTERNS:
            if (match := pattern.search(clause)) and (place := _clean_place(match.group(1))):
                found["location"] = place
                break
        if (match := _ORIGIN_PATTERN.search(clause)) and (place := _clean_place(match.group(1))):
            found["origin"] = place
        for pattern in _JOB_PATTERNS:
            match = pattern.search(clause)
            if match and match.group(1).lower() not in _JOB_STOPWORDS:
                found["job"] = _clean_value(match.group(1))
                break
        if match := _LIKE_PATTERN.search(clause):
            likes.append(_clean_value(match.group(1)))
        if match := _GENERIC_PATTERN.search(clause):
            key = _normal_key(match.group(1))
            value = _clean_value(match.group(2))
            special = _SPECIAL_KEYS.get(key)
            if special == "name":
                pass  # handled by the name patterns, which stop at the end of the name
            elif special is not None:
                if special != "age" or value.isdigit():
                    found.setdefault(special, value)
            elif value:
                found[key] = value
    return found, likes


def collect_facts(user_texts: Sequence[str]) -> Facts:
    facts = Facts()
    for turn, text in enumerate(user_texts):
        found, likes = extract_facts(text)
        for key, value in found.items():
            facts.values[key] = (value, turn)
        facts.likes.extend(like for like in likes if like not in facts.likes)
    return facts


# --- knowledge ---------------------------------------------------------------------------------

_CAPITALS = {
    "spain": ("Spain", "Madrid"),
    "portugal": ("Portugal", "Lisbon"),
    "france": ("France", "Paris"),
    "germany": ("Germany", "Berlin"),
    "italy": ("Italy", "Rome"),
    "united kingdom": ("the United Kingdom", "London"),
    "uk": ("the UK", "London"),
    "england": ("England", "London"),
    "scotland": ("Scotland", "Edinburgh"),
    "ireland": ("Ireland", "Dublin"),
    "netherlands": ("the Netherlands", "Amsterdam"),
    "belgium": ("Belgium", "Brussels"),
    "switzerland": ("Switzerland", "Bern"),
    "austria": ("Austria", "Vienna"),
    "poland": ("Poland", "Warsaw"),
    "greece": ("Greece", "Athens"),
    "sweden": ("Sweden", "Stockholm"),
    "norway": ("Norway", "Oslo"),
    "denmark": ("Denmark", "Copenhagen"),
    "finland": ("Finland", "Helsinki"),
    "iceland": ("Iceland", "Reykjavik"),
    "russia": ("Russia", "Moscow"),
    "ukraine": ("Ukraine", "Kyiv"),
    "turkey": ("Turkey", "Ankara"),
    "egypt": ("Egypt", "Cairo"),
    "morocco": ("Morocco", "Rabat"),
    "nigeria": ("Nigeria", "Abuja"),
    "kenya": ("Kenya", "Nairobi"),
    "south africa": ("South Africa", "Pretoria"),
    "united states": ("the United States", "Washington, D.C."),
    "usa": ("the USA", "Washington, D.C."),
    "canada": ("Canada", "Ottawa"),
    "mexico": ("Mexico", "Mexico City"),
    "brazil": ("Brazil", "Brasília"),
    "argentina": ("Argentina", "Buenos Aires"),
    "chile": ("Chile", "Santiago"),
    "peru": ("Peru", "Lima"),
    "colombia": ("Colombia", "Bogotá"),
    "japan": ("Japan", "Tokyo"),
    "china": ("China", "Beijing"),
    "india": ("India", "New Delhi"),
    "south korea": ("South Korea", "Seoul"),
    "australia": ("Australia", "Canberra"),
    "new zealand": ("New Zealand", "Wellington"),
    "indonesia": ("Indonesia", "Jakarta"),
    "thailand": ("Thailand", "Bangkok"),
    "vietnam": ("Vietnam", "Hanoi"),
}

_JOKES = (
    "Why do programmers prefer dark mode? Because light attracts bugs.",
    'I told my computer I needed a break, and it said: "No problem, I\'ll go to sleep."',
    "Why did the developer go broke? Because he used up all his cache.",
    "There are 10 kinds of people in the world: those who understand binary and those who don't.",
)

_POEM_STANZAS = (
    (
        "{who}, a soul of great renown,",
        "In {place}, a city of ancient crown.",
        "You walk its streets with purpose and drive,",
        "With a burning fire that keeps you alive.",
    ),
    (
        "You breathe the scent of the ocean's spray,",
        "And feel the sun upon your face each day.",
        "You marvel at the beauty of the old town,",
        "And feel at home in the place you've found.",
    ),
    (
        "You savour the flavours of the local cuisine,",
        "And toast the evening with a glass of wine.",
        "You listen to the music of the street,",
        "And feel the city's pulse beneath your feet.",
    ),
    (
        "The trams climb slowly up the hill,",
        "The river shines, the air is still.",
        "In {place} the light is soft and gold,",
        "And every alley has a tale untold.",
    ),
    (
        "Through festivals and quiet nights,",
        "Past tiled facades and harbour lights,",
        "{who} walks on where the seagulls roam,",
        "And {place} has become your home.",
    ),
)
_POEM_LAST_STANZA = (
    "{who}, a name the streets will keep,",
    "In {place}, where old memories sleep.",
    "You found your place in this ancient land,",
    "And made your mark with a helping hand.",
)


# --- intents -----------------------------------------------------------------------------------

_MARKDOWN_REQUEST = re.compile(
    r"\b(markdown|code|coding|table|snippet|program|script|function|essay|tutorial|readme"
    r"|long (?:answer|reply|response|text|essay|document|explanation|story|post)"
    r"|(?:write|give me) (?:something )?long)\b",
    re.IGNORECASE,
)
_POEM_REQUEST = re.compile(r"\b(poem|haiku|verse|sonnet|limerick|rhyme)\b", re.IGNORECASE)
_AGE_QUESTION = re.compile(
    r"how old am i|what(?:'s| is) my age|do you (?:know|remember) (?:how old i am|my age)", re.I
)
_NAME_QUESTION = re.compile(
    r"what(?:'s| is| was) my name|\bwho am i\b|do you (?:know|remember) (?:my name|who i am)"
    r"|what am i called|what do (?:people|you) call me",
    re.IGNORECASE,
)
_LOCATION_QUESTION = re.compile(
    r"where do i live|where am i (?:living|based)|what city do i live in", re.I
)
_ORIGIN_QUESTION = re.compile(r"where am i from|where do i come from", re.IGNORECASE)
_JOB_QUESTION = re.compile(
    r"what do i do(?: for a living)?\b|what(?:'s| is) my (?:job|occupation|profession)"
    r"|where do i work",
    re.IGNORECASE,
)
_LIKES_QUESTION = re.compile(r"what do i (?:like|love|enjoy)", re.IGNORECASE)
_GENERIC_QUESTION = re.compile(
    r"(?:what(?:'s| is| was| are| were)|do you (?:know|remember)|tell me|remind me of) my "
    r"((?:[a-z'-]+\s+){0,3}?[a-z'-]+)\s*(?:\?|$|\.|,|again\b|is\b|are\b)",
    re.IGNORECASE,
)
_ABOUT_ME_QUESTION = re.compile(
    r"what do you know about me|tell me about (?:me|myself)|what have i told you", re.I
)
_LAST_SAID_QUESTION = re.compile(
    r"what did i (?:just )?(?:say|write|tell you)|what was my (?:last|previous) "
    r"(?:message|question)",
    re.IGNORECASE,
)
_SUMMARY_REQUEST = re.compile(
    r"summari[sz]e (?:our|the|this) (?:conversation|chat|discussion)|what have we "
    r"(?:talked about|been talking about|discussed)|recap (?:our|the|this) (?:conversation|chat)",
    re.IGNORECASE,
)
_SYSTEM_QUESTION = re.compile(
    r"system prompt|your instructions|what were you told to do", re.IGNORECASE
)
_CAPITAL_QUESTION = re.compile(r"capital (?:city )?of ([a-z][a-z .'-]*?)\s*(?:[?.!,]|$)", re.I)
_ARITHMETIC = re.compile(
    r"(-?\d+(?:\.\d+)?)\s*([-+*/x\u00d7\u00f7]|plus|minus|times|multiplied by|divided by)\s*"
    r"(-?\d+(?:\.\d+)?)",
    re.IGNORECASE,
)
_HOW_ARE_YOU = re.compile(r"how are you|how's it going|how are things|how do you do", re.I)
_THANKS = re.compile(r"\b(thank|thanks|thx|cheers)\b", re.IGNORECASE)
_COMPLIMENT = re.compile(
    r"\b(astounding|amazing|impressive|great|awesome|brilliant|excellent|incredible|wonderful"
    r"|good job|well done|nice work)\b",
    re.IGNORECASE,
)
_GREETING = re.compile(
    r"^\s*(hi|hello|hey|hiya|greetings|good (?:morning|afternoon|evening))\b", re.I
)
_NICE_TO_MEET = re.compile(r"nice to meet you|pleased to meet you|glad to meet you", re.I)
_GOODBYE = re.compile(r"\b(bye|goodbye|see you|farewell|good night)\b", re.IGNORECASE)
_JOKE = re.compile(r"\bjoke\b", re.IGNORECASE)
_PLACE_IN = re.compile(r"\bin ([A-Z][\w'-]+(?: [A-Z][\w'-]+)?)")


@dataclass
class _Conversation:
    user_texts: list[str]
    system_text: str
    last: str
    facts: Facts
    new_facts: dict[str, str]
    choice: int  # a stable number to vary wording by conversation

    def pick(self, options: Sequence[str]) -> str:
        return options[self.choice % len(options)]


def _describe_fact(key: str, value: str) -> str:
    if key == "age":
        return f"you are {value} years old"
    if key == "location":
        return f"you live in {value}"
    if key == "origin":
        return f"you come from {value}"
    if key == "job":
        return f"you work as {value}" if value.split()[0] in ("a", "an") else f"you're a {value}"
    if key == "name":
        return f"your name is {value}"
    return f"your {key} is {value}"


def _recall(conv: _Conversation, key: str, label: str) -> str:
    value = conv.facts.get(key)
    if value is None:
        return f"I don't know your {label} yet; you haven't told me. What is it?"
    if key == "age":
        name_turn = conv.facts.turn("name")
        where = (
            "in your introduction"
            if name_turn is not None and name_turn == conv.facts.turn("age")
            else "earlier"
        )
        return f"You are {value} years old, as you mentioned {where}."
    if key == "name":
        return f"Your name is {value}."
    return _describe_fact(key, value).replace("you ", "You ", 1).replace("your ", "Your ", 1) + "."


def _poem(conv: _Conversation) -> str:
    place = None
    if match := _PLACE_IN.search(conv.last):
        place = match.group(1)
    place = place or conv.facts.get("location") or conv.facts.get("origin")
    name = conv.facts.get("name")
    wants_name = "name" in conv.last.lower()
    where = f"your life in {place}" if place else "your life"
    if wants_name and name:
        intro = f"Sure, here's a short poem about {where}, using your name:"
    elif wants_name:
        intro = f"You haven't told me your name yet, so here's a short poem about {where}:"
    else:
        intro = f"Sure, here's a short poem about {where}:"
    who = name or "Dear friend"
    middle = list(_POEM_STANZAS[1:])
    start = conv.choice % len(middle)
    chosen = [_POEM_STANZAS[0], middle[start], middle[(start + 1) % len(middle)], _POEM_LAST_STANZA]
    stanzas = [
        "\n".join(line.format(who=who, place=place or "your city") for line in stanza)
        for stanza in chosen
    ]
    return intro + "\n\n" + "\n\n".join(stanzas)


def _arithmetic(match: re.Match[str]) -> str:
    left, op, right = float(match.group(1)), match.group(2).lower(), float(match.group(3))
    symbol = {"x": "*", "\u00d7": "*", "times": "*", "multiplied by": "*", "plus": "+"}.get(op, op)
    symbol = {"minus": "-", "divided by": "/", "\u00f7": "/"}.get(symbol, symbol)
    if symbol == "+":
        result = left + right
    elif symbol == "-":
        result = left - right
    elif symbol == "*":
        result = left * right
    elif right == 0:
        return "Dividing by zero isn't defined, so there is no answer to that one."
    else:
        result = left / right

    def show(number: float) -> str:
        return str(int(number)) if number == int(number) else f"{number:.6g}"

    return f"{show(left)} {symbol} {show(right)} = {show(result)}."


def _topic(text: str) -> str:
    words = text.strip().rstrip("?!.").split()
    topic = " ".join(words[:10])
    return topic + ("..." if len(words) > 10 else "")


def _fallback(conv: _Conversation) -> str:
    lead = conv.pick(
        (
            "That's an interesting question.",
            "Good question.",
            "Let me think about that.",
            "Thanks for asking.",
        )
    )
    return (
        f"{lead} You asked about \u201c{_topic(conv.last)}\u201d. I'm the demo gateway, so my "
        "answers are simulated: I can remember what you tell me about yourself, name the "
        "capital of a country, do simple arithmetic, write a short poem, or give a long "
        "Markdown answer with a table and code (just ask for markdown)."
    )


def _answer(conv: _Conversation) -> str:
    text = conv.last
    if not text.strip():
        return "It looks like your message was empty. What would you like to talk about?"
    if _POEM_REQUEST.search(text):
        return _poem(conv)
    if _MARKDOWN_REQUEST.search(text):
        return markdown_document(text)
    if _AGE_QUESTION.search(text):
        return _recall(conv, "age", "age")
    if _NAME_QUESTION.search(text):
        return _recall(conv, "name", "name")
    if _LOCATION_QUESTION.search(text):
        return _recall(conv, "location", "city")
    if _ORIGIN_QUESTION.search(text):
        return _recall(conv, "origin", "home town")
    if _JOB_QUESTION.search(text):
        return _recall(conv, "job", "job")
    if _LIKES_QUESTION.search(text):
        if not conv.facts.likes:
            return "You haven't told me what you like yet."
        return "You told me you like " + _join(conv.facts.likes) + "."
    if _ABOUT_ME_QUESTION.search(text):
        known = [_describe_fact(key, value) for key, (value, _) in conv.facts.values.items()]
        known += [f"you like {like}" for like in conv.facts.likes]
        if not known:
            return "You haven't told me anything about yourself yet."
        return "Here's what you've told me: " + _join(known) + "."
    if _LAST_SAID_QUESTION.search(text):
        if len(conv.user_texts) < 2:
            return "This is your first message, so there's nothing earlier to repeat."
        return f"You said: \u201c{conv.user_texts[-2]}\u201d"
    if _SUMMARY_REQUEST.search(text):
        earlier = conv.user_texts[:-1]
        if not earlier:
            return "We've only just started: this is your first message."
        lines = "\n".join(f"- {_topic(said)}" for said in earlier)
        return f"So far you've sent {len(earlier)} message(s):\n\n{lines}"
    if _SYSTEM_QUESTION.search(text):
        if not conv.system_text:
            return "I wasn't given a system prompt in this conversation."
        return f"My system prompt says: \u201c{conv.system_text}\u201d"
    if match := _CAPITAL_QUESTION.search(text):
        country = match.group(1).strip().lower().removeprefix("the ")
        if country in _CAPITALS:
            proper, capital = _CAPITALS[country]
            return f"The capital of {proper} is {capital}."
        return f"I'm not sure what the capital of {match.group(1).strip()} is."
    if match := _GENERIC_QUESTION.search(text):
        key = _normal_key(match.group(1))
        special = _SPECIAL_KEYS.get(key)
        if special is not None:
            return _recall(conv, special, key)
        value = conv.facts.get(key)
        if value is None:
            return f"I don't think you've told me your {key} yet."
        return f"Your {key} is {value}."
    if match := _ARITHMETIC.search(text):
        return _arithmetic(match)
    if conv.new_facts:
        return _acknowledge(conv)
    if _JOKE.search(text):
        return conv.pick(_JOKES)
    if _HOW_ARE_YOU.search(text):
        return "I'm doing well, thank you for asking! How can I help you today?"
    if _THANKS.search(text):
        return "You're welcome! Let me know if there's anything else I can help with."
    if _COMPLIMENT.search(text):
        return "Thank you! I'm glad to hear that."
    if _GOODBYE.search(text):
        return "Goodbye! It was nice chatting with you."
    if _GREETING.search(text):
        first = conv.facts.first_name()
        return f"Hello{', ' + first if first else ''}! How can I help you today?"
    return _fallback(conv)


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _acknowledge(conv: _Conversation) -> str:
    name = conv.new_facts.get("name")
    others = [_describe_fact(key, value) for key, value in conv.new_facts.items() if key != "name"]
    if name:
        first = name.split()[0]
        if _NICE_TO_MEET.search(conv.last) or _GREETING.search(conv.last):
            return (
                f"Nice to meet you too, {first}! I'm here to help you with any questions or "
                "concerns you might have. How has your day been so far?"
            )
        return f"Okay. Nice to meet you {first}."
    return f"Got it: {_join(others)}. I'll keep that in mind."


def _greeting_prefix(conv: _Conversation, answer: str) -> str:
    """When an introduction comes with a question, greet before answering."""
    name = conv.new_facts.get("name")
    if not name or answer.startswith(("Nice to meet", "Okay. Nice")):
        return answer
    greeting = f"Nice to meet you, {name.split()[0]}!"
    # A Markdown answer starts with a block of its own (a heading, a list): keep it one.
    separator = (
        "\n\n"
        if answer.lstrip().startswith(("#", "-", "*", "|", "`", ">")) or "\n" in answer
        else " "
    )
    return f"{greeting}{separator}{answer}"


def compose_reply(messages: Sequence[Mapping[str, Any]], seed: int = 0) -> str:
    """The simulated assistant reply to ``messages`` (deterministic in messages and seed)."""
    user_texts = [
        _normalise(message_text(message.get("content")))
        for message in messages
        if message.get("role") == "user"
    ]
    system_text = "\n".join(
        message_text(message.get("content"))
        for message in messages
        if message.get("role") in ("system", "developer")
    )
    if not user_texts:
        return "Hello! How can I help you today?"
    new_facts, _ = extract_facts(user_texts[-1])
    conv = _Conversation(
        user_texts=user_texts,
        system_text=system_text,
        last=user_texts[-1],
        facts=collect_facts(user_texts),
        new_facts=new_facts,
        choice=_stable_number(
            seed,
            [(m.get("role"), message_text(m.get("content"))) for m in messages],
        ),
    )
    return _greeting_prefix(conv, _answer(conv))


# --- long markdown -----------------------------------------------------------------------------


def markdown_document(request: str = "") -> str:
    """A long Markdown answer: headings, lists, a table and fenced code in several languages."""
    topic = _topic(request) or "streaming replies from an LLM gateway"
    return f"""# Streaming replies from a unified LLM gateway

Here is a long, formatted answer to your request (\u201c{topic}\u201d), with headings, lists, \
a table and code in several languages.

## Overview

The short version:

- **Stream** the reply token by token, so the reader sees progress at once.
- **Render** finished blocks once and only redo the open tail.
- Keep the *conversation history* and resend all of it with every turn.
- Show the `model@provider` that actually served each reply.

## Comparison

| Endpoint | Input $/M | Output $/M | Tokens/s |
|---|---:|---:|---:|
| llama-3.1-8b-chat@groq | 0.05 | 0.08 | 750 |
| llama-3.1-70b-chat@together-ai | 0.88 | 0.88 | 85 |
| gpt-4o-mini@openai | 0.15 | 0.60 | 110 |
| claude-3-haiku@anthropic | 0.25 | 1.25 | 125 |

## Code

A small Python client:

```python
import openai

client = openai.OpenAI(base_url="http://127.0.0.1:8765/v0", api_key="demo-key")
stream = client.chat.completions.create(
    model="llama-3.1-8b-chat@groq",
    messages=[{{"role": "user", "content": "Hello!"}}],
    stream=True,
)
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="", flush=True)
print("[bold red]this is text, not markup[/bold red]")
```

The same request with curl:

```bash
curl -sN http://127.0.0.1:8765/v0/chat/completions \\
  -H "Authorization: Bearer $UNIFY_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{{"model": "gpt-4o-mini@openai", "stream": true,
       "messages": [{{"role": "user", "content": "Hi"}}]}}'
```

The last chunk of the stream carries the usage:

```json
{{
  "model": "gpt-4o-mini@openai",
  "usage": {{"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21, "cost": 8.55e-06}}
}}
```

And the throughput, in Rust:

```rust
fn tokens_per_second(tokens: u32, seconds: f64) -> f64 {{
    if seconds <= 0.0 {{
        return 0.0;
    }}
    f64::from(tokens) / seconds
}}
```

## Checklist

1. Set `UNIFY_KEY` in the environment.
2. Pick an endpoint such as `llama-3.1-70b-chat@highest-tks-per-sec`.
3. Watch the cost of each reply next to it.

> Tip: a routed endpoint may change provider between two replies; the reply's `model` field \
says which one served it.

## Summary

That covers the essentials. Ask for more detail on any section.
"""


_SECTION_SUBJECTS = (
    "Measuring time to first token",
    "Keeping the history small",
    "Handling a dropped stream",
    "Choosing a provider",
    "Retrying politely",
    "Rendering Markdown quickly",
    "Counting the cost",
    "Testing without a network",
)
_SECTION_CODE = (
    (
        "python",
        "def cost(prompt_tokens: int, completion_tokens: int) -> float:\n"
        '    """Credits for one reply (prices in $ per million tokens)."""\n'
        "    return (prompt_tokens * {a} + completion_tokens * {b}) / 1_000_000",
    ),
    (
        "javascript",
        "const chunks = [];\nfor await (const chunk of stream) {{\n"
        "  chunks.push(chunk.choices[0]?.delta?.content ?? '');\n}}\n"
        "console.log(chunks.join('').length, 'chars in part {k}');",
    ),
    (
        "go",
        "func backoff(attempt int) time.Duration {{\n"
        "\treturn time.Duration({a}*attempt) * time.Millisecond\n}}",
    ),
    (
        "sql",
        "SELECT served_endpoint, SUM(cost) AS spent\nFROM messages\n"
        "WHERE conversation_id = {k}\nGROUP BY served_endpoint\nORDER BY spent DESC;",
    ),
    ("bash", 'for i in $(seq 1 {k}); do\n  echo "request $i"\ndone'),
    (
        "rust",
        "let ttft_ms: u64 = {a};\nlet itl_ms: u64 = {b};\n"
        'println!("first token after {{}} ms, then {{}} ms per token", ttft_ms, itl_ms);',
    ),
    (
        "typescript",
        "interface Usage {{\n  promptTokens: number;\n  completionTokens: number;\n"
        "  cost: number;\n}}\nconst part{k}: Usage = {{ promptTokens: {a}, "
        "completionTokens: {b}, cost: 0 }};",
    ),
    ("yaml", "gateway: unify\nendpoint: llama-3.1-8b-chat@groq\nretries: {k}\ntimeout_s: {a}"),
)
_FILLER_WORDS = (
    *("This", "note", "pads", "the", "reply", "to", "the", "exact", "size", "you", "asked"),
    *("for", "so", "that", "every", "run", "sees", "the", "same", "count", "of", "tokens"),
    *("and", "the", "same", "shape", "of", "text"),
)


def markdown_section(index: int) -> str:
    """Section ``index`` (1-based) of an arbitrarily long Markdown continuation."""
    subject = _SECTION_SUBJECTS[index % len(_SECTION_SUBJECTS)]
    language, code = _SECTION_CODE[index % len(_SECTION_CODE)]
    a, b = 10 + (index * 7) % 90, 20 + (index * 13) % 180
    return f"""
## Part {index}: {subject}

Part {index} looks at {subject.lower()}. The idea is simple: measure first, change one thing at \
a time, and keep the numbers next to the code that produced them.

- Step one: record the baseline ({a} ms).
- Step two: apply the change and measure again ({b} ms).
- Step three: keep it only if it helps.

```{language}
{code.format(k=index, a=a, b=b)}
```

| Step | Tokens | Time (ms) |
|---|---:|---:|
| {index}.1 | {a * 4} | {a} |
| {index}.2 | {b * 4} | {b} |
"""


def _filler(count: int) -> list[str]:
    """Exactly ``count`` tokens of plain sentences, starting a new paragraph."""
    if count <= 0:
        return []
    cycle = [*_FILLER_WORDS, "."]
    tokens: list[str] = []
    for index in range(count):
        item = cycle[index % len(cycle)]
        if item == ".":
            tokens.append(".")
        elif not tokens:
            tokens.append("\n\n" + item.capitalize())
        elif tokens[-1] == ".":
            tokens.append(" " + item.capitalize())
        else:
            tokens.append(" " + item)
    if count >= 2:
        tokens[-1] = "."
    return tokens


def fit_tokens(tokens: Sequence[str], count: int) -> list[str]:
    """Exactly ``count`` tokens: ``tokens`` cut, or continued with Markdown sections and filler."""
    if count <= 0:
        return []
    if len(tokens) >= count:
        return list(tokens[:count])
    fitted = list(tokens)
    index = 1
    while True:
        section = tokenize(markdown_section(index))
        if len(fitted) + len(section) > count:
            break
        fitted.extend(section)
        index += 1
    fitted.extend(_filler(count - len(fitted)))
    return fitted


def reply_tokens(
    messages: Sequence[Mapping[str, Any]],
    *,
    seed: int = 0,
    markdown: bool = False,
    exact: int | None = None,
) -> list[str]:
    """The tokens of the reply to ``messages``; ``exact`` forces the count, ``markdown`` the form.

    With ``exact``, the natural reply comes first, then long Markdown is appended (or the reply is
    cut) so that exactly ``exact`` tokens are produced.
    """
    text = compose_reply(messages, seed)
    if markdown and not text.startswith("# "):
        last_user = next(
            (message_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"),
            "",
        )
        text = text + "\n\n" + markdown_document(last_user)
    tokens = tokenize(text)
    if exact is not None:
        return fit_tokens(tokens, exact)
    return tokens


def join_tokens(tokens: Iterable[str]) -> str:
    return "".join(tokens)
