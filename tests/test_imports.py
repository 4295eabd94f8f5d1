"""The Python package's imports go one way: no module imports, at its top
or inside a function, one that imports it back (directly or through
others), and none imports a package it belongs to (``import crnn`` from
inside crnn runs back up to the whole package). Read from the source with
``ast``, so that an import deferred into a function counts as well."""
import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _modules(src: Path = SRC) -> dict:
    """{dotted name: path} of every module of the crnn package (the
    Cython extension's too)."""
    out = {}
    for path in sorted([*(src / "crnn").rglob("*.py"), *(src / "crnn").rglob("*.pyx")]):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_package(name: str, modules: dict) -> bool:
    return modules[name].name == "__init__.py"


def _target(name: str, modules: dict) -> str | None:
    """The crnn module that importing ``name`` reaches (its longest prefix
    that is one), or None outside the package."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in modules:
            return ".".join(parts)
        parts.pop()
    return None


def _statements(path: Path) -> list:
    """The import statements of a module, at any depth (functions, ``if
    TYPE_CHECKING``, ``try``); of a Cython source, its Python imports
    written on one line each (``cimport`` is C's)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".pyx":
        trees = []
        for line in text.splitlines():
            if re.match(r"\s*(from|import)\s", line) and " cimport " not in line:
                try:
                    trees.append(ast.parse(line.strip()))
                except SyntaxError:   # prose in a docstring, say
                    pass
    else:
        trees = [ast.parse(text, str(path))]
    return [n for tree in trees for n in ast.walk(tree)
            if isinstance(n, (ast.Import, ast.ImportFrom))]


def imports(modules: dict | None = None) -> dict:
    """{module: {crnn modules it imports}}: every ``import`` statement in
    it, at any depth."""
    modules = _modules() if modules is None else modules
    graph = {}
    for name, path in modules.items():
        here = name if _is_package(name, modules) else name.rpartition(".")[0]
        edges = set()
        for node in _statements(path):
            if isinstance(node, ast.Import):
                found = [_target(a.name, modules) for a in node.names]
            else:
                if node.level:
                    base = here.split(".")[:len(here.split(".")) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module
                # `from pkg import sub` imports the submodule where there is one
                found = [_target(f"{mod}.{a.name}", modules) for a in node.names]
            edges.update(t for t in found if t is not None and t != name)
        graph[name] = edges
    return graph


def cycles(graph: dict) -> list:
    """The import circles of graph: each strongly connected component of
    more than one module (Tarjan), as a sorted list."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def test_the_graph_sees_imports_inside_functions():
    graph = imports()
    assert "crnn._module" in graph["crnn.rnn"]          # at the top
    assert "crnn.utils.rnn" in graph["crnn.rnn"]        # a submodule, by its dotted name
    assert "crnn._extras" in graph["crnn.onnx"]         # inside try / except
    assert "crnn._kernels" in graph["crnn.rnn"]         # the Cython extension
    assert all(len(edges) < len(graph) for edges in graph.values())


def test_the_package_has_no_import_circle():
    assert cycles(imports()) == []


# programs over the package, which the package never imports: `python -m
# crnn` and the demo it runs use crnn as a user does
APPLICATIONS = {"crnn.__main__", "crnn.demo"}


def test_no_module_imports_a_package_it_belongs_to():
    graph = imports()
    up = sorted(f"{m} -> {t}" for m, edges in graph.items() for t in edges
                if m.startswith(t + ".") and m not in APPLICATIONS)
    assert up == []
    assert not any(a in edges for a in APPLICATIONS for m, edges in graph.items()
                   if m not in APPLICATIONS)


def test_cycles_finds_a_circle_and_only_circles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
