"""README's example test file, run as a vendor runs it: a fresh directory with no project
configuration, plain `pytest`, the plugin found through its `pytest11` entry point."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = re.compile(r"<!-- readme-test: (\S+) -->\n```python\n(.*?)```", re.DOTALL)


def test_the_readme_example_test_file_passes_against_the_plugin(tmp_path: Path) -> None:
    blocks = MARKER.findall(README.read_text(encoding="utf-8"))
    assert [name for name, _ in blocks] == ["test_billing.py"]
    name, code = blocks[0]
    (tmp_path / name).write_text(code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", name],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    tests = code.count("\nasync def test_")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert f"{tests} passed" in done.stdout, done.stdout[-2000:]


def test_the_plugin_reports_what_the_journal_holds_when_an_expectation_fails(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_expect.py").write_text(
        "def test_nothing_was_sent(mycarenet_sim):\n"
        "    mycarenet_sim.expect(service='etar', code='196')\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_expect.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert (
        "expected at least one exchange(s) with service=etar, code=196, found 0; "
        "the journal holds: nothing" in done.stdout
    ), done.stdout[-2000:]
