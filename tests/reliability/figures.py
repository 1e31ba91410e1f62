"""Count the figures of docs/reliability.md from a real test run.

    python -m tests.reliability.figures

Runs the reliability tests and the endpoint property tests once (pytest in a subprocess, JUnit XML
for the outcomes, Hypothesis statistics for the generated examples) and prints:

- faults survived: passing fault cases (gateway layer + app + background polls + retries),
- bad inputs tried: examples Hypothesis generated and that passed, plus the explicit bad-input
  cases (hostile server text, unusual and 1 MB prompts),
- messages lost: failing cases among those that check a typed prompt or a received reply is kept
  (goal: 0); any failure at all is listed.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    "tests/reliability",
    "tests/core/test_endpoint_properties.py",
]
FAULT_FILES = ("test_gateway_faults", "test_app_faults", "test_background_polls", "test_retry")
BAD_INPUT_FILES = ("test_inert_display",)
KEEPS_MESSAGES = ("test_app_survives_fault", "test_failed_turn", "megabyte", "unusual_prompt")


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "junit.xml"
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "--hypothesis-show-statistics",
                f"--junitxml={report}",
                *FILES,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        cases = ET.parse(report).getroot().iter("testcase")
        outcomes: Counter[str] = Counter()
        failed: list[str] = []
        for case in cases:
            module = case.get("classname", "").rsplit(".", 1)[-1]
            name = case.get("name", "")
            bad = case.find("failure") is not None or case.find("error") is not None
            skipped = case.find("skipped") is not None
            if bad:
                failed.append(f"{module}::{name}")
            elif not skipped:
                outcomes[module] += 1
                if module in FAULT_FILES:
                    outcomes["faults"] += 1
                if module in BAD_INPUT_FILES:
                    outcomes["bad inputs"] += 1
    examples = sum(int(n) for n in re.findall(r"(\d+) passing examples", run.stdout))
    lost = [name for name in failed if any(key in name for key in KEEPS_MESSAGES)]
    print(f"tests passed: {sum(v for k, v in outcomes.items() if k.startswith('test_'))}")
    for module in sorted(k for k in outcomes if k.startswith("test_")):
        print(f"  {module}: {outcomes[module]}")
    print(f"faults survived: {outcomes['faults']} fault cases passed")
    print(
        f"bad inputs tried: {examples} generated (Hypothesis) + "
        f"{outcomes['bad inputs']} explicit = {examples + outcomes['bad inputs']}"
    )
    print(f"messages lost: {len(lost)}")
    if failed:
        print("failures:\n  " + "\n  ".join(failed))
    return 0 if not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
