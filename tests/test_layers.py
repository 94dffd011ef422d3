"""The package layers and the one vocabulary, checked on the source (no imports run), and
what importing a light module pulls in (in a fresh interpreter).

* ``train`` never imports ``runtime``, ``export`` or ``demo``; ``runtime`` imports only
  ``vaekit.format`` of vaekit; ``demo`` only ``runtime`` and ``format``; ``format`` no other
  vaekit package, and neither torch nor numpy.
* The file names of a checkpoint and of an export folder are spelled only in
  :mod:`vaekit.format`: paths, messages and help texts elsewhere use its constants.
* ``vaekit.train.plots`` (figures from numpy arrays) imports without torch: the package's
  ``__init__`` resolves its public names lazily, each from its module on first use.
* No module imports one that imports it back, directly or through others (imports inside
  functions count: they run too), and no private name (``_x``) is imported from another
  package: what a package offers the others is its public names.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("format", "train", "export", "runtime", "demo")
#: folders whose modules import vaekit's packages: the packages and the benchmarks
IMPORTERS = (*PACKAGES, "benchmarks")
#: the vaekit packages each package may import
ALLOWED = {
    "format": set(),
    "train": {"format"},
    "export": {"format", "train", "runtime"},
    "runtime": {"format"},
    "demo": {"format", "runtime"},
}


def sources(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


def imported_modules(tree: ast.AST) -> set[str]:
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree)
              if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_the_layers_below_it(package):
    wrong = []
    for path in sources(package):
        for name in imported_modules(ast.parse(path.read_text(), str(path))):
            parts = name.split(".")
            if parts[0] == "vaekit" and len(parts) > 1 and parts[1] != package \
                    and parts[1] not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(REPO)} imports {name}")
            if package == "format" and parts[0] in ("torch", "numpy", "onnxruntime"):
                wrong.append(f"{path.relative_to(REPO)} imports {name}")
    assert not wrong, f"vaekit.{package} may import only {sorted(ALLOWED[package])}: {wrong}"


FILE_NAMES = ("config.json", "model.safetensors", "metrics.json", "resume.pt", "vaekit.json",
              "examples.npz", "encoder.onnx", "decoder.onnx")


def string_literals(tree: ast.AST):
    """Every string constant in code, docstrings left out (f-strings' literal parts included)."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node


@pytest.mark.parametrize("folder", ["train", "export", "runtime", "demo", "benchmarks", ".ci"])
def test_file_names_are_spelled_only_in_vaekit_format(folder):
    """Paths, messages and help texts use vaekit.format's names (docstrings may name files)."""
    found = [f"{path.relative_to(REPO)}:{node.lineno} spells {name!r}"
             for path in sources(folder)
             for node in string_literals(ast.parse(path.read_text(), str(path)))
             for name in FILE_NAMES if name in node.value]
    assert not found, ("use the constants of vaekit.format (CONFIG, WEIGHTS, CONTRACT_FILE, "
                       f"EXAMPLES_FILE, graph_file, ...): {found}")


def run_python(code: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter (this one may have imported torch already)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300, cwd=REPO)


@pytest.mark.parametrize("module", ["vaekit.train", "vaekit.train.plots"])
def test_figures_import_without_torch(module):
    """A notebook drawing figures from arrays needs neither torch nor the model code."""
    r = run_python(f"""
        import sys
        import {module}
        heavy = sorted(m for m in ("torch", "vaekit.train.model", "vaekit.train.checkpoint")
                       if m in sys.modules)
        assert not heavy, f"import {module} imported {{heavy}}"
    """)
    assert r.returncode == 0, r.stderr[-2000:]


def test_the_train_package_resolves_its_public_names_on_first_use():
    """Every name of ``vaekit.train.__all__`` is the object its module defines, listed by
    ``dir()``; the checkpoint module imported on its own knows every variant."""
    r = run_python("""
        import sys
        import vaekit.train as t
        assert "torch" not in sys.modules
        assert set(t.__all__) == set(t._EXPORTS) and len(t.__all__) == len(set(t.__all__))
        assert set(t.__all__) <= set(dir(t)), sorted(set(t.__all__) - set(dir(t)))
        from vaekit.train.checkpoint import load_model  # as `python -m vaekit.train.evaluate`
        MODELS = sys.modules["vaekit.train.registry"].MODELS  # loading a checkpoint knows them all
        assert sorted(MODELS) == ["beta_vae", "cvae", "hvae", "iwae", "mog", "vae", "vamp"], sorted(MODELS)
        import importlib
        for name in t.__all__:
            value = getattr(t, name)
            assert value is getattr(importlib.import_module(f"vaekit.train.{t._EXPORTS[name]}"), name)
        from vaekit.train import CVAE, MODEL_CONFIGS, build_model, plots  # names and modules
        try:
            t.no_such_name
        except AttributeError as e:
            assert "no_such_name" in str(e)
        else:
            raise AssertionError("an unknown name must raise AttributeError")
    """)
    assert r.returncode == 0, r.stderr[-2000:]


def package_of(name: str) -> str | None:
    """``vaekit.train.loop`` -> ``train``; ``benchmarks.models`` -> ``benchmarks``; else None."""
    parts = name.split(".")
    if parts[0] == "vaekit" and len(parts) > 1:
        return parts[1]
    return "benchmarks" if parts[0] == "benchmarks" else None


def runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that runs: at module level or in a function, not under
    ``if TYPE_CHECKING:``."""
    typing_only = {id(node) for n in ast.walk(tree)
                   if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)
                   for statement in n.body for node in ast.walk(statement)}
    return [n for n in ast.walk(tree)
            if isinstance(n, (ast.Import, ast.ImportFrom)) and id(n) not in typing_only]


def import_graph(folder: str) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (``__init__`` for the package)."""
    modules = {path.stem for path in sources(folder)}
    prefix = "benchmarks" if folder == "benchmarks" else f"vaekit.{folder}"

    def target(module: str, names: list[str]) -> set[str]:
        if module:  # `from .loop import x`, `from vaekit.train.loop import x`
            return {module.split(".")[0]}
        return {n if n in modules else "__init__" for n in names}  # `from . import hvae`

    graph: dict[str, set[str]] = {}
    for path in sources(folder):
        edges: set[str] = set()
        for node in runtime_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == prefix or alias.name.startswith(prefix + "."):
                        edges.add(alias.name[len(prefix) + 1:].split(".")[0] or "__init__")
            elif node.level == 1:
                edges |= target(node.module or "", [a.name for a in node.names])
            elif node.level == 0 and node.module and (node.module == prefix
                                                      or node.module.startswith(prefix + ".")):
                edges |= target(node.module[len(prefix) + 1:], [a.name for a in node.names])
        graph[path.stem] = edges - {path.stem}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """At least one import path that goes round in each group of modules that import each
    other, e.g. ``["loop", "evaluate", "__main__", "loop"]`` (a depth-first walk)."""
    found: list[list[str]] = []
    finished: set[str] = set()

    def walk(path: list[str]) -> None:
        for nxt in sorted(graph.get(path[-1], ())):
            if nxt in path:
                loop = path[path.index(nxt):] + [nxt]
                if not any(set(loop) == set(c) for c in found):
                    found.append(loop)
            elif nxt not in finished:
                walk([*path, nxt])
        finished.add(path[-1])

    for start in sorted(graph):
        if start not in finished:
            walk([start])
    return found


def test_the_cycle_finder_finds_a_cycle_through_three_modules():
    graph = {"__main__": {"loop"}, "loop": {"evaluate", "model"}, "evaluate": {"__main__"},
             "model": set()}
    assert cycles(graph) == [["__main__", "loop", "evaluate", "__main__"]]
    assert cycles({"model": {"variants"}, "variants": {"model"}}) == [["model", "variants", "model"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("folder", IMPORTERS)
def test_no_module_imports_one_that_imports_it_back(folder):
    found = cycles(import_graph(folder))
    assert not found, (f"import cycles in {folder}/ (each module imports the next): "
                       + "; ".join(" -> ".join(c) for c in found)
                       + ": move what both need into a module below them")


def test_the_train_package_is_a_graph_with_the_registry_above_the_models():
    """The variants define classes; the registry, which imports them all, lists them; the
    training command is the only module that imports the loop for the command line."""
    graph = import_graph("train")
    assert {"model", "variants", "hvae"} <= graph["registry"]
    assert not {"registry", "cli", "__main__"} & (graph["model"] | graph["variants"] | graph["hvae"])
    assert not any("__main__" in edges or "cli" in edges
                   for module, edges in graph.items() if module != "__main__")


def private_imports(path: Path, package: str) -> list[str]:
    """``from vaekit.Q.m import _x``, ``vaekit.Q._m`` and ``m._x`` for a module ``m`` of another
    package ``Q``, in a module of ``package``: ``path:line name`` for each."""
    tree = ast.parse(path.read_text(), str(path))
    found, aliases = [], set()

    def private(name: str) -> bool:
        return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))

    for node in runtime_imports(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if package_of(alias.name) not in (None, package):
                    aliases.add(alias.asname or alias.name)
                    found += [f"{path.relative_to(REPO)}:{node.lineno} {alias.name}"
                              for part in alias.name.split(".") if private(part)]
        elif node.level == 0 and node.module and package_of(node.module) not in (None, package):
            found += [f"{path.relative_to(REPO)}:{node.lineno} {node.module}"
                      for part in node.module.split(".") if private(part)]
            for alias in node.names:
                if private(alias.name):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno} {node.module}.{alias.name}")
                aliases.add(alias.asname or alias.name)  # may be a module: `m._x` below
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr) \
                and ast.unparse(node.value) in aliases:
            found.append(f"{path.relative_to(REPO)}:{node.lineno} {ast.unparse(node)}")
    return found


def test_the_private_name_check_sees_each_spelling(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    code = tmp_path / "bench.py"
    code.write_text("from vaekit.train.loop import _Setup, train\n"
                    "import vaekit.runtime._kernels\n"
                    "from vaekit.train import loop\n"
                    "loop._train_epoch()\n"
                    "from .own import _fine\n")
    found = private_imports(code, "benchmarks")
    assert found == ["bench.py:1 vaekit.train.loop._Setup", "bench.py:2 vaekit.runtime._kernels",
                     "bench.py:4 loop._train_epoch"]
    assert private_imports(code, "train") == ["bench.py:2 vaekit.runtime._kernels"]


@pytest.mark.parametrize("folder", IMPORTERS)
def test_no_private_name_is_imported_from_another_package(folder):
    found = [hit for path in sources(folder) for hit in private_imports(path, folder)]
    assert not found, (f"{folder}/ uses private names of another package: {found}; make what "
                       f"it needs public in its own package (a name without the underscore)")
