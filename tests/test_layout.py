"""The package's layout: parts by stage, imports pointing one way, rich and typer only in
the command line, and no internal function with more than ten parameters."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "bigram"

# Each part may import itself and the parts ranked below it, never one above.
RANK = {"errors": -1, "version": -1, "arrays": 0, "settings": 0, "memory": 0, "datasets": 0,
        "limits": 0,
        "temporaries": 0, "write_behind": 0, "read_ahead": 0, "machine": -1,
        "tensor": 1, "text": 2, "ngrams": 3, "cluster": 4, "models": 5, "formats": 6,
        "training": 7, "api": 8, "cli": 9, "__init__": 10, "__main__": 10}
TERMINAL = {"rich", "typer", "click"}
# What users call with the command line's options; their signatures are the CLI's and API's.
USER_FACING = {("api.py", "train"), ("cli/app.py", "train"), ("cli/app.py", "tune_command")}


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        yield relative, ast.parse(path.read_text(), str(path))


def part_of(relative):
    return relative.parts[0].removesuffix(".py")


def imported(relative, tree):
    """Every module a file imports (also inside functions), as absolute dotted names."""
    package = ["bigram", *relative.parts[:-1]]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1])
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module
            yield name
            for alias in node.names:   # `from bigram.formats import arpa_model`
                yield f"{name}.{alias.name}"


def test_parts_import_only_parts_below_them():
    wrong = []
    for relative, tree in modules():
        part = part_of(relative)
        assert part in RANK, f"{relative}: a part the layout test does not know"
        for name in set(imported(relative, tree)):
            pieces = name.split(".")
            if pieces[0] != "bigram" or len(pieces) < 2 or pieces[1] not in RANK:
                continue
            target = pieces[1]
            if target != part and RANK[target] >= RANK[part]:
                wrong.append(f"{relative} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_rich_and_typer_only_in_the_command_line():
    wrong = [f"{relative} imports {name}" for relative, tree in modules()
             if part_of(relative) != "cli"
             for name in imported(relative, tree) if name.split(".")[0] in TERMINAL]
    assert not wrong, "\n".join(wrong)


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_circles_between_modules():
    """Imports at module level and inside functions together form no cycle, within a part
    too. The engine (bigram.tensor) is left as it is: its ops register onto Tensor, as
    tinygrad's do."""
    edges = {}
    for relative, tree in modules():
        if part_of(relative) == "tensor":
            continue
        name = ".".join(["bigram", *relative.with_suffix("").parts]).removesuffix(".__init__")
        edges[name] = set(imported(relative, tree))
    # The package's own __init__ is lazy (it imports on first use), so `from bigram import
    # tensor` is an edge to bigram.tensor only.
    graph = {name: {t for t in targets if t in edges and t != "bigram" and t != name
                    and not name.startswith(t + ".")}
             for name, targets in edges.items()}
    assert cycles(graph) == []


def test_no_internal_function_takes_more_than_ten_parameters():
    wrong = []
    for relative, tree in modules():
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            args = node.args
            names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
            names += [a.arg for a in (args.vararg, args.kwarg) if a]
            if names and names[0] in ("self", "cls"):
                names = names[1:]
            if len(names) > 10 and (str(relative), node.name) not in USER_FACING:
                wrong.append(f"{relative}:{node.lineno} {node.name} takes {len(names)}")
    assert not wrong, "\n".join(wrong)
