"""The package layers and the one vocabulary, checked on the source (no imports run), and
what importing a light module pulls in (in a fresh interpreter).

* ``train`` never imports ``runtime``, ``export`` or ``demo``; ``runtime`` imports only
  ``vaekit.format`` of vaekit; ``demo`` only ``runtime`` and ``format``; ``format`` no other
  vaekit package, and neither torch nor numpy.
* The file names of a checkpoint and of an export folder are spelled only in
  :mod:`vaekit.format`: paths, messages and help texts elsewhere use its constants.
* ``vaekit.train.plots`` (figures from numpy arrays) imports without torch: the package's
  ``__init__`` resolves its public names lazily, each from its module on first use.
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
        assert sorted(MODELS) == ["beta_vae", "cvae", "hvae", "iwae", "vae", "vamp"], sorted(MODELS)
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
