"""The README's first two commands are the ones CI runs, and every example in the README and
in docs/*.md runs as shown (see tests/doc_examples.py for how examples are read and marked)."""

from pathlib import Path

import doc_examples
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = doc_examples.documents()
NAMES = [str(d.relative_to(ROOT)) for d in DOCUMENTS]


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


@pytest.mark.parametrize("document", DOCUMENTS, ids=NAMES)
def test_console_examples_print_what_they_show(document, tmp_path):
    """Every `$ command` of the document's console blocks, run in order in one folder."""
    commands = doc_examples.console_commands(document)
    if not commands:
        pytest.skip("no console examples")
    env = doc_examples.sandbox(tmp_path)
    failures = [doc_examples.check_command(c, tmp_path, env) for c in commands]
    failures = [f for f in failures if f]
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("document", DOCUMENTS, ids=NAMES)
def test_python_examples_run_as_shown(document, tmp_path):
    """The document's pycon/python blocks as one doctest session (files written in tmp_path)."""
    examples = doc_examples.doctest_blocks(document)
    if not examples:
        pytest.skip("no Python examples")
    failures, tries = doc_examples.run_doctests(document, tmp_path)
    assert failures == 0 and tries >= len(examples)


@pytest.mark.parametrize("document", DOCUMENTS, ids=NAMES)
def test_every_example_is_run_or_marked_not_run(document):
    """A `$ ` or `>>>` session outside a console/pycon/python block would go unchecked."""
    assert doc_examples.unrun_examples(document) == []


def test_the_readme_and_guides_hold_examples_that_run():
    """The runner finds what it should: the README's engine and API sessions, and consoles."""
    readme = ROOT / "README.md"
    examples = doc_examples.doctest_blocks(readme)
    assert len(examples) >= 2 and sum(b.text.count(">>>") for b in examples) >= 15
    assert len(doc_examples.console_commands(readme)) >= 5
    total = sum(len(doc_examples.console_commands(d)) for d in DOCUMENTS)
    assert total >= 40


def test_unrun_example_checker_finds_an_unmarked_session(tmp_path, monkeypatch):
    """The checker itself: a `$ ` block in a plain fence fails, the marked one passes."""
    page = tmp_path / "page.md"
    page.write_text("```\n$ bigram train\n```\n\n<!-- not run: needs a cluster -->\n"
                    "```console\n$ bigram train --dask tcp://x:8786\n```\n\n"
                    "```text\n>>> 1 + 1\n2\n```\n\n```console\n$ bigram info\n```\n")
    monkeypatch.setattr(doc_examples, "ROOT", tmp_path)
    assert doc_examples.unrun_examples(page) == ["page.md:1", "page.md:10"]
    assert [c.command for c in doc_examples.console_commands(page)] == ["bigram info"]


def test_console_comparison_is_exact_in_words_and_numbers():
    """Padding and table rules do not count; every word and number does; `...` is any text."""
    shows = doc_examples.shows
    assert shows("  items   31,033 ", "items 31,033\n ──────── \n\n")
    assert not shows("items 31,033", "items 31,034")
    assert shows("a ...\n...\nz", "a b c\nx\ny\nz")
    assert not shows("a\nz", "a\nb\nz")


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
