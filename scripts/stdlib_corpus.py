"""Real English text for benchmarks, made from what this machine has: Python's own docs.

Two domains, one sentence a line, tokens separated by one space (words and punctuation
split apart, as WikiText is), deterministic:

* `docs`: the language and library reference as pydoc ships it (pydoc_data/topics.py of
  a Python installation under /root/.pyenv), about 0.7 MB of prose;
* `comments`: the comments and docstrings of the standard library's modules (the top
  folder and its packages, tests left out), several MB.

    python scripts/stdlib_corpus.py OUT_DIR [--python 3.11.7]

writes OUT_DIR/{docs,comments}.{train,dev,test}.txt (every 20th sentence to dev, the
next one to test).
"""

import argparse
import ast
import io
import re
import tokenize
from pathlib import Path

PYENV = Path("/root/.pyenv/versions")
_TOKEN = re.compile(r"[A-Za-z0-9_]+(?:'[a-z]+)?|[^\sA-Za-z0-9_]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")


def sentences(text):
    """The text's sentences as token lines (at least 3 tokens, at most 120)."""
    text = re.sub(r"\s+", " ", text)
    for sentence in _SENTENCE_END.split(text):
        tokens = _TOKEN.findall(sentence)
        if 3 <= len(tokens) <= 120:
            yield " ".join(tokens)


def docs_text(lib):
    """The pydoc topics: one string per topic (the module's one literal dict, read with
    ast.literal_eval rather than run)."""
    tree = ast.parse((lib / "pydoc_data" / "topics.py").read_text(encoding="utf-8"))
    literal = next(node.value for node in tree.body if isinstance(node, ast.Assign))
    topics = ast.literal_eval(literal)
    return [topics[key] for key in sorted(topics)]


def comment_text(path):
    """The comments (joined) and docstrings of one module."""
    source = path.read_text(encoding="utf-8", errors="replace")
    parts = []
    try:
        comments = [t.string.lstrip("#").strip() for t in
                    tokenize.generate_tokens(io.StringIO(source).readline)
                    if t.type == tokenize.COMMENT]
        parts.append(" ".join(c for c in comments if c))
        tree = ast.parse(source)
    except (SyntaxError, tokenize.TokenError, ValueError):
        return parts
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc:
                parts.append(doc)
    return parts


def comments_text(lib):
    files = sorted(p for p in lib.rglob("*.py")
                   if not {"test", "tests", "idlelib", "site-packages", "lib2to3"}
                   & set(p.relative_to(lib).parts))
    return [part for path in files for part in comment_text(path)]


def write_splits(out, name, texts):
    lines = [s for text in texts for s in sentences(text)]
    split = {"train": [], "dev": [], "test": []}
    for i, line in enumerate(lines):
        split["dev" if i % 20 == 0 else "test" if i % 20 == 1 else "train"].append(line)
    for part, chosen in split.items():
        (out / f"{name}.{part}.txt").write_text("\n".join(chosen) + "\n", encoding="utf-8")
    sizes = {part: sum(len(s) + 1 for s in chosen) for part, chosen in split.items()}
    print(f"{name}: {len(lines):,} sentences; " +
          ", ".join(f"{part} {size / 1e6:.2f} MB" for part, size in sizes.items()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--python", default="3.11.7")
    args = parser.parse_args()
    lib = next((PYENV / args.python / "lib").glob("python3*"))
    args.out.mkdir(parents=True, exist_ok=True)
    write_splits(args.out, "docs", docs_text(lib))
    write_splits(args.out, "comments", comments_text(lib))


if __name__ == "__main__":
    main()
