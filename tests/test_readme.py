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
