"""The README's first two commands are the ones CI runs."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert lines[0] == "```", "the README must open with its two commands"
    end = lines.index("```", 1)
    return lines[1:end]


def test_readme_opens_with_install_and_test_commands():
    install, tests = readme_commands()
    assert "pip install" in install and "bigram train" in install
    assert "pytest" in tests


def test_ci_runs_exactly_the_readme_commands():
    script = (ROOT / ".ci" / "run").read_text().splitlines()
    commands = [line for line in script if line and not line.startswith(("#", "set ", "cd "))]
    assert commands == readme_commands()


def test_readme_engine_example_runs_as_shown():
    import doctest

    text = (ROOT / "README.md").read_text()
    start = text.index("```python\n") + len("```python\n")
    example = text[start:text.index("```", start)]
    parser = doctest.DocTestParser()
    test = parser.get_doctest(example, {}, "README", "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0 and runner.tries >= 8


def test_readme_python_section_runs_as_shown(tmp_path, monkeypatch):
    """The "From Python" examples, as one doctest session (they write files: in tmp_path)."""
    import doctest
    import re

    text = (ROOT / "README.md").read_text()
    start = text.index("\n## From Python\n")
    section = text[start:text.index("\n## ", start + 1)]
    session = "\n".join(re.findall(r"```pycon\n(.*?)```", section, re.DOTALL))
    monkeypatch.chdir(tmp_path)
    test = doctest.DocTestParser().get_doctest(session, {}, "From Python", "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0 and runner.tries >= 20


def test_benchmark_harness_runs_in_quick_mode(tmp_path):
    import json
    import subprocess
    import sys

    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick",
                          "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text())
    assert {r["workload"] for r in result["workloads"]} >= {"count names.txt",
                                                             "evaluate NLL on names.txt"}
    assert all(r["median_s"]["ours"] > 0 for r in result["workloads"])
    assert result["startup_s"]["bigram --help"] > 0
    assert "| workload |" in run.stdout and result["machine"]["cores"] >= 1
