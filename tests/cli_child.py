"""`python -m bigram` in a child process, for tests where pipes and terminals matter."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bigram(*args, stdin=subprocess.DEVNULL, cwd, env=None):
    """Run `python -m bigram ARGS` with this checkout's code in `cwd`; stdin is text (sent
    through a pipe), a file descriptor, or DEVNULL. Returns the CompletedProcess."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    environment.pop("BIGRAM_MODEL", None)
    piped = isinstance(stdin, str)
    return subprocess.run([sys.executable, "-m", "bigram", *map(str, args)], cwd=cwd,
                          env=environment, input=stdin if piped else None,
                          stdin=None if piped else stdin, capture_output=True, text=True,
                          timeout=300)
