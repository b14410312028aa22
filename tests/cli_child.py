"""`python -m bigram` in a child process, for tests where pipes and terminals matter."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bigram(*args, stdin=subprocess.DEVNULL, cwd, env=None, stdout=None):
    """Run `python -m bigram ARGS` with this checkout's code in `cwd`; stdin is text (sent
    through a pipe), a file descriptor, or DEVNULL; stdout a pipe read back, or a file
    descriptor (a terminal). Returns the CompletedProcess."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    environment.pop("BIGRAM_MODEL", None)
    piped = isinstance(stdin, str)
    return subprocess.run([sys.executable, "-m", "bigram", *map(str, args)], cwd=cwd,
                          env=environment, input=stdin if piped else None,
                          stdin=None if piped else stdin,
                          stdout=subprocess.PIPE if stdout is None else stdout,
                          stderr=subprocess.PIPE, text=True, timeout=300, check=False)
