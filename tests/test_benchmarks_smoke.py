"""Each benchmark module imports and runs one very small iteration (no timing assertions).

The benchmarks themselves are not tests (they live in benchmarks/, outside `testpaths`); this only
keeps them runnable as the app changes.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(autouse=True)
def _benchmarks_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "bench_streaming",
        "bench_keys",
        "bench_ttft",
        "bench_history",
        "bench_spend",
        "bench_session_memory",
        "bench_compare",
    ],
)
def test_benchmark_runs_one_small_iteration(name: str) -> None:
    module = importlib.import_module(name)
    result = module.run(smoke=True, save=False)
    assert result["table"], "a benchmark reports at least one row"
    for row in result["table"]:
        assert {"benchmark", "median", "baseline", "ratio", "target", "met"} <= set(row)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty start-up needs Linux")
def test_startup_benchmark_sees_a_first_frame() -> None:
    module = importlib.import_module("bench_startup")
    result = module.run(smoke=True, save=False)
    summary = result["summary"]
    assert summary["minimal_ms_median"] > 0
    assert summary["unify_tui_demo_ms_median"] > 0


@pytest.mark.slow
def test_scroll_through_reaches_the_first_message() -> None:
    module = importlib.import_module("scroll_through")
    figures = module.run(turns=40)
    assert figures["steps"] > 5  # a screen at a time, all the way up
    assert figures["folded_messages_at_top"] > 0  # the pages left behind were folded
    assert figures["rss_peak_mb"] >= figures["rss_open_mb"] > 0


def test_run_all_knows_every_benchmark() -> None:
    run_all = importlib.import_module("run_all")
    for module_name, _runs, _quick in run_all.BENCHMARKS.values():
        assert (BENCHMARKS / f"{module_name}.py").is_file()


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty start-up needs Linux")
@pytest.mark.parametrize("program", ["minimal", "app"])
def test_the_instruction_count_child_reaches_its_first_frame(
    program: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without valgrind: the hook the count relies on still sees the first frame with this Textual.
    module = importlib.import_module("count_startup_instructions")
    bench_startup = importlib.import_module("bench_startup")
    monkeypatch.setenv(module._CHILD, program)
    argv = [sys.executable, str(BENCHMARKS / "count_startup_instructions.py")]
    assert bench_startup.first_frame_ms(argv, str(tmp_path), timeout=60) > 0


@pytest.mark.slow
@pytest.mark.serial  # launches the app, a bare Textual app and llmock on ptys, timing them
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty and /proc need Linux")
def test_the_outside_benchmark_sees_the_reply_on_screen_and_on_the_wire() -> None:
    pytest.importorskip("pyte", reason="bench_outside.py reads the screen with pyte (bench extra)")
    module = importlib.import_module("bench_outside")
    result = module.run(smoke=True, save=False)  # a tiny reply, one round, ~10 s
    rows = {row["name"]: row for row in result["rows"]}
    app, raw = rows["app 0 ms 2k"], rows["raw 0 ms 2k"]
    assert rows["bare"]["first_frame_ms"] > 0
    assert app["online_ms"] >= app["first_frame_ms"] > 0
    # the wire relay saw the request and the reply; the screen showed both ends of the reply
    assert app["enter_to_wire_ms"] > 0 and raw["enter_to_wire_ms"] > 0
    assert app["first_text_after_enter_ms"] is not None
    assert app["whole_reply_ms"] >= app["first_text_after_enter_ms"]
    # (a cold first launch may still be importing when the keys come: some echoes can be late)
    assert len(app["echo_idle_ms"]) == len(module.IDLE_KEYS)
    assert any(echo is not None for echo in app["echo_idle_ms"])
    assert result["table"] and module.markdown(result["table"]).startswith("| figure |")
