import importlib.util
import sys
from pathlib import Path

import pytest


def shared():
    """tests/export/_shared.py, imported once under one name for every test folder."""
    name = "vaekit_tests_shared_export"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parent.parent / "export" / "_shared.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory) -> Path:
    """Checkpoint folder of a fresh tiny model, exported (fp32/fp16/int8) into ckpt/onnx."""
    return shared().tiny_export(tmp_path_factory)
