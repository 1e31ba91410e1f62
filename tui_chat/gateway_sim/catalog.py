"""The simulated catalog: models, providers, endpoints, prices and speeds that drift over time.

The structure (which model is served by which provider, base prices, base speeds) is fixed, so
tests can rely on names such as ``gpt-4o-mini@openai``. What drifts is the measured speed (every
``interval_s`` seconds, a new "benchmark" per endpoint) and the price (every ``6 * interval_s``),
both a deterministic function of the sim's seed, the endpoint and the time epoch.

How speeds drift is the ``drift`` argument of ``Catalog.metrics`` (``DRIFTS``). ``"jitter"``
(the default) draws a new, independent factor per endpoint and interval, on the base speeds as
they are: a provider much faster than the rest (groq on the Llama 3.1 models) stays fastest
nearly always. ``"waves"`` is what ``--demo`` shows: each endpoint's load rises and falls in a
smooth wave of its own period (``WAVE_PERIODS`` intervals) and phase, the providers of a model
run closer together (``WAVE_SPREAD``), so the fastest few overtake each other every few
intervals as their waves cross; prices hold still, so price routing does not move.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

PRICE_EPOCHS_PER_SPEED_EPOCH = 6

#: How speeds drift (``Catalog.metrics``): independent steps, or smooth crossing waves.
DRIFTS: tuple[str, ...] = ("jitter", "waves")
#: "waves": an endpoint's itl is ``fastest * (base / fastest) ** WAVE_SPREAD`` (the model's
#: fastest base itl; 1 would keep the base spread) times its load wave.
WAVE_SPREAD = 0.1
#: "waves": the load wave multiplies itl and ttft by 1 ± WAVE_DEPTH (at most ~25% a step).
WAVE_DEPTH = 0.2
#: "waves": each endpoint's wave period, in metrics intervals (a hash picks it in this range).
WAVE_PERIODS = (5.0, 8.0)

#: Every provider the sim knows; ``custom`` is known but serves nothing (as for a fresh account).
PROVIDERS: tuple[str, ...] = (
    "anthropic",
    "anyscale",
    "aws-bedrock",
    "custom",
    "deepinfra",
    "deepseek",
    "fireworks-ai",
    "groq",
    "lepton-ai",
    "mistral-ai",
    "octoai",
    "openai",
    "perplexity-ai",
    "replicate",
    "together-ai",
    "vertex-ai",
    "xai",
)

# provider -> (price factor, output/input price ratio, itl factor, base ttft in ms)
_OPEN_PROVIDER_TRAITS: dict[str, tuple[float, float, float, float]] = {
    "anyscale": (1.0, 1.0, 1.0, 380.0),
    "together-ai": (1.0, 1.0, 0.8, 420.0),
    "fireworks-ai": (0.9, 1.0, 0.7, 330.0),
    "groq": (0.75, 1.3, 0.28, 210.0),
    "deepinfra": (0.6, 1.2, 1.1, 480.0),
    "octoai": (0.9, 1.0, 0.9, 400.0),
    "replicate": (1.3, 1.4, 1.6, 900.0),
    "aws-bedrock": (1.4, 1.3, 1.2, 560.0),
    "lepton-ai": (0.8, 1.0, 1.0, 450.0),
    "perplexity-ai": (1.0, 1.0, 0.9, 350.0),
    "vertex-ai": (1.5, 1.4, 1.0, 520.0),
    "mistral-ai": (1.0, 3.0, 0.9, 300.0),
    "deepseek": (0.5, 2.0, 1.3, 600.0),
}
_OPEN_PROVIDERS_FOR_TAIL = (
    "together-ai",
    "fireworks-ai",
    "deepinfra",
    "groq",
    "octoai",
    "replicate",
    "lepton-ai",
    "anyscale",
    "aws-bedrock",
)


@dataclass(frozen=True)
class EndpointSpec:
    """One ``model@provider`` with its base (un-drifted) figures."""

    model: str
    provider: str
    input_cost: float  # $ per million input tokens
    output_cost: float  # $ per million output tokens
    context_window: int  # tokens
    ttft_ms: float  # base time to first token, ms
    itl_ms: float  # base inter-token latency, ms
    quality: float  # 0..1

    @property
    def name(self) -> str:
        return f"{self.model}@{self.provider}"


@dataclass(frozen=True)
class EndpointMetrics:
    """The figures of one endpoint at one moment (after drift)."""

    endpoint: str
    model: str
    provider: str
    input_cost: float  # $/M tokens
    output_cost: float  # $/M tokens
    context_window: int  # tokens
    ttft: float  # ms
    itl: float  # ms
    quality: float  # 0..1
    measured_at: float  # unix time of the benchmark this comes from

    @property
    def cost(self) -> float:
        """Unify's blended routing cost, (3 * input + output) / 4, in $/M tokens."""
        return (3 * self.input_cost + self.output_cost) / 4

    @property
    def tks_per_sec(self) -> float:
        """Output tokens per second, 1000 / itl."""
        return 1000.0 / self.itl

    def value(self, metric: str) -> float:
        """The value of a canonical metric name (see ``routing.METRIC_ALIASES``)."""
        if metric == "quality":
            return float(self.quality)
        if metric == "ttft":
            return self.ttft
        if metric == "itl":
            return self.itl
        if metric == "cost":
            return self.cost
        if metric == "input-cost":
            return self.input_cost
        if metric == "output-cost":
            return self.output_cost
        if metric == "tks-per-sec":
            return self.tks_per_sec
        raise KeyError(metric)

    def measured_at_iso(self) -> str:
        return datetime.fromtimestamp(self.measured_at, UTC).replace(tzinfo=None).isoformat()


def unit_hash(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts (stable across runs, unlike ``hash``)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _size_label(size_b: float) -> str:
    return f"{size_b:g}b"


def _open_base_price(size_b: float) -> float:
    """Base input price in $/M tokens for an open-weights model of ``size_b`` billion parameters."""
    for limit, price in (
        (2, 0.06),
        (4, 0.1),
        (9, 0.18),
        (15, 0.3),
        (35, 0.8),
        (75, 0.9),
        (150, 1.2),
    ):
        if size_b <= limit:
            return price
    return 3.0


def _open_base_itl(size_b: float) -> float:
    """Base inter-token latency in ms for an open model of ``size_b`` billion parameters."""
    return 5.0 + 9.0 * float(math.log10(1 + size_b) ** 1.6)


def _open_quality(size_b: float, generation: float) -> float:
    return round(min(0.9, 0.35 + 0.09 * math.log10(1 + size_b) * 2 + 0.04 * generation), 3)


# (model, size in B params, generation 0..3, context window, providers)
_OPEN_MODELS: tuple[tuple[str, float, float, int, tuple[str, ...]], ...] = (
    (
        "llama-2-7b-chat",
        7,
        0,
        4096,
        ("anyscale", "together-ai", "fireworks-ai", "deepinfra", "replicate", "octoai"),
    ),
    ("llama-2-13b-chat", 13, 0, 4096, ("anyscale", "together-ai", "deepinfra", "replicate")),
    (
        "llama-2-70b-chat",
        70,
        0,
        4096,
        (
            "anyscale",
            "together-ai",
            "fireworks-ai",
            "deepinfra",
            "replicate",
            "octoai",
            "perplexity-ai",
        ),
    ),
    ("codellama-7b-instruct", 7, 0, 16384, ("together-ai", "anyscale", "octoai")),
    ("codellama-13b-instruct", 13, 0, 16384, ("together-ai", "octoai")),
    ("codellama-34b-instruct", 34, 0, 16384, ("together-ai", "anyscale", "deepinfra", "octoai")),
    ("codellama-70b-instruct", 70, 0, 4096, ("together-ai", "anyscale", "deepinfra")),
    (
        "llama-3-8b-chat",
        8,
        1,
        8192,
        ("together-ai", "fireworks-ai", "groq", "deepinfra", "aws-bedrock", "octoai", "replicate"),
    ),
    (
        "llama-3-70b-chat",
        70,
        1,
        8192,
        ("together-ai", "fireworks-ai", "groq", "deepinfra", "aws-bedrock", "octoai", "replicate"),
    ),
    (
        "llama-3.1-8b-chat",
        8,
        2,
        131072,
        ("together-ai", "fireworks-ai", "groq", "deepinfra", "aws-bedrock", "octoai", "lepton-ai"),
    ),
    (
        "llama-3.1-70b-chat",
        70,
        2,
        131072,
        ("together-ai", "fireworks-ai", "groq", "deepinfra", "aws-bedrock", "octoai", "lepton-ai"),
    ),
    (
        "llama-3.1-405b-chat",
        405,
        2,
        131072,
        ("together-ai", "fireworks-ai", "groq", "deepinfra", "aws-bedrock", "vertex-ai", "octoai"),
    ),
    ("llama-3.2-1b-chat", 1, 2.5, 131072, ("together-ai", "fireworks-ai", "groq", "deepinfra")),
    ("llama-3.2-3b-chat", 3, 2.5, 131072, ("together-ai", "fireworks-ai", "groq", "deepinfra")),
    ("llama-3.2-11b-vision-chat", 11, 2.5, 131072, ("together-ai", "fireworks-ai", "groq")),
    ("llama-3.2-90b-vision-chat", 90, 2.5, 131072, ("together-ai", "fireworks-ai", "groq")),
    (
        "llama-3.3-70b-chat",
        70,
        3,
        131072,
        ("together-ai", "fireworks-ai", "groq", "deepinfra", "aws-bedrock"),
    ),
    (
        "mistral-7b-instruct-v0.1",
        7,
        0,
        8192,
        ("anyscale", "together-ai", "octoai", "deepinfra", "mistral-ai"),
    ),
    (
        "mistral-7b-instruct-v0.2",
        7,
        0.5,
        32768,
        ("together-ai", "fireworks-ai", "octoai", "lepton-ai"),
    ),
    (
        "mistral-7b-instruct-v0.3",
        7,
        1,
        32768,
        ("together-ai", "fireworks-ai", "deepinfra", "mistral-ai", "aws-bedrock"),
    ),
    (
        "mixtral-8x7b-instruct-v0.1",
        47,
        0.5,
        32768,
        (
            "anyscale",
            "together-ai",
            "fireworks-ai",
            "groq",
            "deepinfra",
            "octoai",
            "mistral-ai",
            "aws-bedrock",
            "lepton-ai",
            "perplexity-ai",
        ),
    ),
    (
        "mixtral-8x22b-instruct-v0.1",
        141,
        1,
        65536,
        ("together-ai", "fireworks-ai", "deepinfra", "octoai", "mistral-ai"),
    ),
    ("gemma-2b-it", 2, 0.5, 8192, ("together-ai", "anyscale", "fireworks-ai")),
    ("gemma-7b-it", 7, 0.5, 8192, ("together-ai", "anyscale", "fireworks-ai", "groq", "deepinfra")),
    ("gemma-2-9b-it", 9, 1.5, 8192, ("together-ai", "fireworks-ai", "groq", "deepinfra")),
    ("gemma-2-27b-it", 27, 1.5, 8192, ("together-ai", "fireworks-ai", "deepinfra")),
    ("qwen-2-72b-instruct", 72, 1.5, 32768, ("together-ai", "fireworks-ai", "deepinfra")),
    ("qwen-2.5-7b-instruct", 7, 2, 32768, ("together-ai", "deepinfra")),
    ("qwen-2.5-72b-instruct", 72, 2.5, 32768, ("together-ai", "fireworks-ai", "deepinfra")),
    (
        "qwen-2.5-coder-32b-instruct",
        32,
        2.5,
        32768,
        ("together-ai", "fireworks-ai", "groq", "deepinfra"),
    ),
    ("phi-3-mini-4k-instruct", 3.8, 1, 4096, ("deepinfra", "replicate")),
    ("phi-3-medium-4k-instruct", 14, 1, 4096, ("deepinfra",)),
    ("dbrx-instruct", 132, 1, 32768, ("together-ai", "fireworks-ai", "deepinfra", "octoai")),
    ("yi-34b-chat", 34, 0.5, 4096, ("together-ai", "fireworks-ai", "deepinfra")),
    ("nous-hermes-2-mixtral-8x7b-dpo", 47, 1, 32768, ("together-ai", "fireworks-ai", "octoai")),
    ("deepseek-v3", 671, 3, 65536, ("deepseek", "together-ai", "fireworks-ai", "deepinfra")),
    (
        "deepseek-r1",
        671,
        3,
        65536,
        ("deepseek", "together-ai", "fireworks-ai", "deepinfra", "groq"),
    ),
    ("llama-3.1-sonar-small-128k-online", 8, 2, 127072, ("perplexity-ai",)),
    ("llama-3.1-sonar-large-128k-online", 70, 2, 127072, ("perplexity-ai",)),
    ("llama-3.1-sonar-huge-128k-online", 405, 2, 127072, ("perplexity-ai",)),
)

# (model, input $/M, output $/M, context window, quality, itl ms, ttft ms, providers)
_HOSTED_MODELS: tuple[tuple[str, float, float, int, float, float, float, tuple[str, ...]], ...] = (
    ("gpt-3.5-turbo", 0.5, 1.5, 16385, 0.62, 11.0, 380.0, ("openai",)),
    ("gpt-4", 30.0, 60.0, 8192, 0.8, 42.0, 700.0, ("openai",)),
    ("gpt-4-turbo", 10.0, 30.0, 128000, 0.84, 28.0, 620.0, ("openai",)),
    ("gpt-4o", 2.5, 10.0, 128000, 0.9, 12.0, 450.0, ("openai",)),
    ("gpt-4o-mini", 0.15, 0.6, 128000, 0.8, 9.0, 350.0, ("openai",)),
    ("gpt-4.1", 2.0, 8.0, 1047576, 0.91, 12.0, 480.0, ("openai",)),
    ("gpt-4.1-mini", 0.4, 1.6, 1047576, 0.85, 9.0, 360.0, ("openai",)),
    ("gpt-4.1-nano", 0.1, 0.4, 1047576, 0.74, 6.0, 280.0, ("openai",)),
    ("o1-mini", 3.0, 12.0, 128000, 0.87, 10.0, 2400.0, ("openai",)),
    ("o1-preview", 15.0, 60.0, 128000, 0.92, 22.0, 6000.0, ("openai",)),
    ("o3-mini", 1.1, 4.4, 200000, 0.9, 8.0, 2000.0, ("openai",)),
    (
        "claude-3-haiku",
        0.25,
        1.25,
        200000,
        0.75,
        8.0,
        420.0,
        ("anthropic", "aws-bedrock", "vertex-ai"),
    ),
    (
        "claude-3-sonnet",
        3.0,
        15.0,
        200000,
        0.82,
        16.0,
        800.0,
        ("anthropic", "aws-bedrock", "vertex-ai"),
    ),
    (
        "claude-3-opus",
        15.0,
        75.0,
        200000,
        0.88,
        35.0,
        1500.0,
        ("anthropic", "aws-bedrock", "vertex-ai"),
    ),
    (
        "claude-3.5-sonnet",
        3.0,
        15.0,
        200000,
        0.92,
        14.0,
        750.0,
        ("anthropic", "aws-bedrock", "vertex-ai"),
    ),
    (
        "claude-3.5-haiku",
        0.8,
        4.0,
        200000,
        0.83,
        11.0,
        600.0,
        ("anthropic", "aws-bedrock", "vertex-ai"),
    ),
    (
        "claude-3.7-sonnet",
        3.0,
        15.0,
        200000,
        0.93,
        14.0,
        800.0,
        ("anthropic", "aws-bedrock", "vertex-ai"),
    ),
    ("gemini-1.0-pro", 0.5, 1.5, 32760, 0.66, 14.0, 600.0, ("vertex-ai",)),
    ("gemini-1.5-pro", 1.25, 5.0, 2097152, 0.88, 15.0, 800.0, ("vertex-ai",)),
    ("gemini-1.5-flash", 0.075, 0.3, 1048576, 0.8, 5.0, 350.0, ("vertex-ai",)),
    ("gemini-2.0-flash", 0.1, 0.4, 1048576, 0.86, 4.5, 330.0, ("vertex-ai",)),
    ("mistral-small", 0.2, 0.6, 32768, 0.72, 9.0, 300.0, ("mistral-ai",)),
    ("mistral-medium", 2.7, 8.1, 32768, 0.78, 16.0, 400.0, ("mistral-ai",)),
    (
        "mistral-large",
        2.0,
        6.0,
        131072,
        0.86,
        22.0,
        450.0,
        ("mistral-ai", "aws-bedrock", "vertex-ai"),
    ),
    ("mistral-nemo", 0.15, 0.15, 131072, 0.7, 8.0, 300.0, ("mistral-ai",)),
    ("codestral", 0.2, 0.6, 32768, 0.78, 9.0, 320.0, ("mistral-ai", "vertex-ai")),
    ("grok-beta", 5.0, 15.0, 131072, 0.84, 18.0, 500.0, ("xai",)),
    ("grok-2", 2.0, 10.0, 131072, 0.87, 16.0, 480.0, ("xai",)),
    ("deepseek-chat", 0.27, 1.1, 65536, 0.86, 20.0, 700.0, ("deepseek",)),
    ("deepseek-coder", 0.14, 0.28, 65536, 0.8, 20.0, 700.0, ("deepseek",)),
    ("command-r", 0.5, 1.5, 131072, 0.72, 14.0, 400.0, ("aws-bedrock",)),
    ("command-r-plus", 3.0, 15.0, 131072, 0.8, 24.0, 500.0, ("aws-bedrock",)),
)

# The long tail that makes type-to-search matter: (family, sizes, generation, context, variants)
_TAIL_FAMILIES: tuple[tuple[str, tuple[float, ...], float, int, tuple[str, ...]], ...] = (
    ("qwen-2.5", (0.5, 1.5, 3, 14, 32), 2, 32768, ("instruct", "math-instruct")),
    ("qwen-2.5-coder", (1.5, 7, 14), 2, 32768, ("instruct",)),
    ("qwen-1.5", (0.5, 1.8, 4, 7, 14, 32, 72, 110), 1, 32768, ("chat",)),
    ("gemma-2", (2,), 1.5, 8192, ("it",)),
    ("phi-3.5", (3.8,), 1.5, 131072, ("mini-instruct", "moe-instruct")),
    ("falcon", (7, 40, 180), 0, 2048, ("instruct", "chat")),
    ("starcoder2", (3, 7, 15), 1, 16384, ("instruct",)),
    ("yi-1.5", (6, 9, 34), 1, 4096, ("chat",)),
    ("olmo", (1, 7), 1, 4096, ("instruct",)),
    ("granite-3.0", (2, 8), 2, 4096, ("instruct",)),
    ("internlm-2.5", (7, 20), 1.5, 32768, ("chat",)),
    ("solar", (10.7,), 0.5, 4096, ("instruct",)),
    ("openchat-3.5", (7,), 0.5, 8192, ("chat",)),
    ("openchat-3.6", (8,), 1, 8192, ("chat",)),
    ("zephyr", (7,), 0.5, 32768, ("beta", "alpha")),
    ("nous-hermes-2", (7, 34), 1, 4096, ("chat", "dpo")),
    ("nous-hermes-llama2", (13, 70), 0, 4096, ("chat",)),
    ("wizardlm-2", (7, 141), 1, 65536, ("chat",)),
    ("wizardcoder-python", (13, 34), 0, 16384, ("instruct",)),
    ("dolphin-2.9-llama3", (8, 70), 1, 8192, ("chat",)),
    ("hermes-3-llama-3.1", (8, 70, 405), 2, 131072, ("chat",)),
    ("deepseek-r1-distill-llama", (8, 70), 3, 131072, ("chat",)),
    ("deepseek-r1-distill-qwen", (1.5, 7, 14, 32), 3, 131072, ("chat",)),
    ("deepseek-coder-v2-lite", (16,), 2, 131072, ("instruct",)),
    ("deepseek-llm", (7, 67), 0.5, 4096, ("chat",)),
    ("llava-1.6-mistral", (7,), 1, 32768, ("chat",)),
    ("llava-1.6-vicuna", (7, 13), 1, 4096, ("chat",)),
    ("llava-v1.6", (34,), 1, 4096, ("chat",)),
    ("vicuna-v1.5", (7, 13), 0, 4096, ("chat",)),
    ("mythomax-l2", (13,), 0, 4096, ("chat",)),
    ("chronos-hermes", (13,), 0, 4096, ("chat",)),
    ("airoboros-l2", (70,), 0, 4096, ("chat",)),
    ("snorkel-mistral-pairrm-dpo", (7,), 0.5, 32768, ("chat",)),
    ("stripedhyena-nous", (7,), 0.5, 32768, ("chat",)),
    ("openhermes-2.5-mistral", (7,), 0.5, 8192, ("chat",)),
    ("toppy-m", (7,), 0.5, 4096, ("chat",)),
    ("remm-slerp-l2", (13,), 0, 4096, ("chat",)),
    ("lzlv", (70,), 0, 4096, ("chat",)),
    ("platypus2", (70,), 0, 4096, ("instruct",)),
    ("upstage-solar-pro", (22,), 1.5, 4096, ("chat",)),
    ("jamba-1.5", (52, 398), 2, 262144, ("mini-chat", "large-chat")),
    ("nemotron-4", (340,), 2, 4096, ("instruct",)),
    ("llama-3.1-nemotron", (70,), 2.5, 131072, ("instruct",)),
    ("mistral-nemo-base", (12,), 2, 131072, ("instruct",)),
    ("ministral", (3, 8), 2.5, 131072, ("instruct",)),
    ("pixtral", (12, 124), 2.5, 131072, ("chat",)),
    ("aya-expanse", (8, 32), 2.5, 8192, ("chat",)),
    ("aya-23", (8, 35), 1.5, 8192, ("chat",)),
    ("c4ai-command-r7b", (7,), 2.5, 131072, ("chat",)),
    ("exaone-3.5", (2.4, 7.8, 32), 2.5, 32768, ("instruct",)),
    ("smollm2", (0.36, 1.7), 2, 8192, ("instruct",)),
    ("tinyllama-1.1b", (1.1,), 0, 2048, ("chat",)),
    ("stablelm-2-zephyr", (1.6,), 1, 4096, ("chat",)),
    ("stablelm-zephyr", (3,), 0.5, 4096, ("chat",)),
    ("codegemma", (2, 7), 1, 8192, ("it",)),
    ("codeqwen-1.5", (7,), 1, 65536, ("chat",)),
    ("sqlcoder", (7, 15, 70), 1, 8192, ("instruct",)),
    ("meditron", (7, 70), 0.5, 4096, ("chat",)),
    ("biomistral", (7,), 0.5, 32768, ("chat",)),
    ("saul-instruct-v1", (7,), 0.5, 32768, ("chat",)),
    ("mpt", (7, 30), 0, 8192, ("instruct", "chat")),
    ("redpajama-incite", (3, 7), 0, 2048, ("chat", "instruct")),
    ("dolly-v2", (3, 7, 12), 0, 2048, ("instruct",)),
    ("guanaco", (7, 13, 33, 65), 0, 2048, ("chat",)),
    ("koala", (7, 13), 0, 2048, ("chat",)),
    ("alpaca", (7,), 0, 2048, ("instruct",)),
    ("orca-2", (7, 13), 0.5, 4096, ("chat",)),
    ("neural-chat-v3-1", (7,), 0.5, 8192, ("chat",)),
    ("marcoroni", (7, 70), 0.5, 4096, ("chat",)),
    ("goliath", (120,), 0.5, 4096, ("chat",)),
    ("xwin-lm", (7, 13, 70), 0.5, 4096, ("chat",)),
    ("tulu-2-dpo", (7, 13, 70), 0.5, 8192, ("chat",)),
    ("tulu-3-llama-3.1", (8, 70), 2.5, 131072, ("chat",)),
    ("qwq", (32,), 3, 32768, ("preview",)),
    ("sailor2", (1, 8, 20), 2.5, 32768, ("chat",)),
    ("openthinker", (7, 32), 3, 32768, ("chat",)),
    ("reflection-llama-3.1", (70,), 2, 131072, ("chat",)),
)


def _open_spec(
    model: str, provider: str, size_b: float, generation: float, context_window: int
) -> EndpointSpec:
    price_factor, out_ratio, itl_factor, ttft_ms = _OPEN_PROVIDER_TRAITS[provider]
    base = _open_base_price(size_b)
    # a small fixed per-endpoint wobble so providers are not in lockstep
    wobble = 0.9 + 0.2 * unit_hash("price", model, provider)
    input_cost = round(base * price_factor * wobble, 4)
    output_cost = round(input_cost * out_ratio, 4)
    itl = _open_base_itl(size_b) * itl_factor * (0.85 + 0.3 * unit_hash("itl", model, provider))
    ttft = ttft_ms * (0.8 + 0.4 * unit_hash("ttft", model, provider)) + 2.0 * math.sqrt(size_b)
    return EndpointSpec(
        model=model,
        provider=provider,
        input_cost=input_cost,
        output_cost=output_cost,
        context_window=context_window,
        ttft_ms=round(ttft, 2),
        itl_ms=round(itl, 3),
        quality=_open_quality(size_b, generation),
    )


def _build_specs() -> list[EndpointSpec]:
    specs: list[EndpointSpec] = []
    for model, size_b, generation, context_window, providers in _OPEN_MODELS:
        for provider in providers:
            specs.append(_open_spec(model, provider, size_b, generation, context_window))
    for model, inp, out, context_window, quality, itl, ttft, providers in _HOSTED_MODELS:
        for index, provider in enumerate(providers):
            # resellers (bedrock, vertex) charge the same but run a little differently
            factor = 1.0 if index == 0 else 0.9 + 0.3 * unit_hash("resell", model, provider)
            specs.append(
                EndpointSpec(
                    model=model,
                    provider=provider,
                    input_cost=inp,
                    output_cost=out,
                    context_window=context_window,
                    ttft_ms=round(ttft * factor, 2),
                    itl_ms=round(itl * factor, 3),
                    quality=quality,
                )
            )
    for family, sizes, generation, context_window, variants in _TAIL_FAMILIES:
        for size_b in sizes:
            # many hosts also sell a quantised "-turbo" build of the same weights
            names = [f"{family}-{_size_label(size_b)}-{variant}" for variant in variants]
            names += [f"{name}-turbo" for name in names if unit_hash("turbo", name) < 0.65]
            for model in names:
                count = 1 + int(unit_hash("count", model) * 3)
                start = int(unit_hash("start", model) * len(_OPEN_PROVIDERS_FOR_TAIL))
                for step in range(count):
                    provider = _OPEN_PROVIDERS_FOR_TAIL[
                        (start + step * 2) % len(_OPEN_PROVIDERS_FOR_TAIL)
                    ]
                    specs.append(_open_spec(model, provider, size_b, generation, context_window))
    return specs


class Catalog:
    """Every endpoint the sim serves, and their drifting metrics.

    ``seed`` shifts the drift; ``interval_s`` is how often speeds are re-measured (prices change
    every ``6 * interval_s``). Thread-safe: it is immutable after construction.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._specs: dict[str, EndpointSpec] = {spec.name: spec for spec in _build_specs()}
        by_model: dict[str, list[EndpointSpec]] = {}
        by_provider: dict[str, list[EndpointSpec]] = {}
        for spec in self._specs.values():
            by_model.setdefault(spec.model, []).append(spec)
            by_provider.setdefault(spec.provider, []).append(spec)
        self._by_model = {model: tuple(specs) for model, specs in by_model.items()}
        self._by_provider = {provider: tuple(specs) for provider, specs in by_provider.items()}
        self._fastest_itl = {
            model: min(spec.itl_ms for spec in specs) for model, specs in by_model.items()
        }

    @cached_property
    def models(self) -> list[str]:
        return sorted(self._by_model)

    @cached_property
    def providers(self) -> list[str]:
        """Providers that serve at least one model, sorted."""
        return sorted(self._by_provider)

    @cached_property
    def endpoints(self) -> list[str]:
        return sorted(self._specs)

    def specs(self) -> Iterable[EndpointSpec]:
        return self._specs.values()

    def spec(self, endpoint: str) -> EndpointSpec | None:
        return self._specs.get(endpoint)

    def has_model(self, model: str) -> bool:
        return model in self._by_model

    def specs_for_model(self, model: str) -> tuple[EndpointSpec, ...]:
        return self._by_model.get(model, ())

    def specs_for_provider(self, provider: str) -> tuple[EndpointSpec, ...]:
        return self._by_provider.get(provider, ())

    def metrics(
        self, spec: EndpointSpec, now: float, interval_s: float, drift: str = "jitter"
    ) -> EndpointMetrics:
        """The figures of ``spec`` at unix time ``now``; speeds drift every ``interval_s``, the
        way ``drift`` says (``DRIFTS``)."""
        interval_s = max(interval_s, 1e-3)
        speed_epoch = math.floor(now / interval_s)
        name = spec.name
        if drift == "waves":
            load = self._load_wave(name, speed_epoch)
            fastest = self._fastest_itl[spec.model]
            itl = fastest * (spec.itl_ms / fastest) ** WAVE_SPREAD * (1 + WAVE_DEPTH * load)
            ttft = spec.ttft_ms * (1 + WAVE_DEPTH * load)
            price_factor = 1.0
        else:
            price_epoch = math.floor(now / (interval_s * PRICE_EPOCHS_PER_SPEED_EPOCH))
            itl = spec.itl_ms * (0.55 + 1.1 * unit_hash(self.seed, "itl", name, speed_epoch))
            ttft = spec.ttft_ms * (0.6 + 0.9 * unit_hash(self.seed, "ttft", name, speed_epoch))
            price_factor = 0.88 + 0.24 * unit_hash(self.seed, "price", name, price_epoch)
        return EndpointMetrics(
            endpoint=name,
            model=spec.model,
            provider=spec.provider,
            input_cost=float(f"{spec.input_cost * price_factor:.4g}"),
            output_cost=float(f"{spec.output_cost * price_factor:.4g}"),
            context_window=spec.context_window,
            ttft=round(ttft, 2),
            itl=round(itl, 3),
            quality=spec.quality,
            measured_at=speed_epoch * interval_s,
        )

    def _load_wave(self, endpoint: str, epoch: int) -> float:
        """The endpoint's load at ``epoch``, in [-1, 1]: a sine of its own period and phase."""
        low, high = WAVE_PERIODS
        period = low + (high - low) * unit_hash(self.seed, "wave-period", endpoint)
        phase = unit_hash(self.seed, "wave-phase", endpoint)
        return math.sin(2 * math.pi * (epoch / period + phase))
