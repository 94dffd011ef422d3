"""The README's code runs as pasted: the "embed the decoder" example (no vaekit, no torch) and the
Runtime section's examples (vaekit.runtime, no torch).

The embed block is the ```python fence that opens ``decoder.onnx`` with onnxruntime: taken from
README.md when it has one, else from runtime/EMBED.md (where it is written first).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"```python\n(.*?)```", re.DOTALL)


def embed_block() -> tuple[Path, str]:
    for source in (REPO / "README.md", REPO / "runtime" / "EMBED.md"):
        if source.is_file():
            for block in FENCE.findall(source.read_text()):
                if re.search(r"^import .*\bonnxruntime\b", block, re.MULTILINE) and "decoder.onnx" in block:
                    return source, block
    pytest.fail("no ```python block opening decoder.onnx with onnxruntime in README.md or runtime/EMBED.md")


def test_embed_example_is_short_and_vaekit_free():
    source, block = embed_block()
    code = [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(code) <= 10, f"the example in {source.name} has {len(code)} lines of code; keep it to 10"
    assert "vaekit" not in "\n".join(code).replace("python -m vaekit.export", "")
    assert "torch" not in block


def test_embed_example_runs_with_only_onnxruntime_and_numpy(tiny_ckpt, tmp_path):
    source, block = embed_block()
    # the block opens checkpoints/mnist-z2/onnx relative to the working directory
    folder = re.search(r'"([^"]*/onnx)"', block).group(1)
    (tmp_path / folder).parent.mkdir(parents=True)
    (tmp_path / folder).symlink_to(tiny_ckpt / "onnx", target_is_directory=True)
    probe = (
        "import sys\n"
        "for name in ('torch', 'vaekit'):\n"
        "    sys.modules[name] = None  # importing them now fails\n"
        f"{block}\n"
        "import json\n"
        "print(json.dumps({'shape': list(images.shape), 'min': float(images.min()),"
        " 'max': float(images.max()), 'dtype': str(pixels.dtype)}))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], check=False, cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, f"the example in {source} failed:\n{run.stderr[-2000:]}"
    lines = run.stdout.strip().splitlines()
    assert lines[0] == "(16, 1, 28, 28) mnist"  # what the example itself prints
    result = json.loads(lines[-1])
    assert result["shape"] == [16, 1, 28, 28] and result["dtype"] == "uint8"
    assert 0.0 <= result["min"] <= result["max"] <= 1.0


# ----------------------------------------------------------------------------- the Runtime section


def runtime_blocks() -> list[str]:
    """The ```python blocks of README.md, then docs/runtime.md (the GPU one), that load a model
    with vaekit.runtime."""
    text = (REPO / "README.md").read_text() + (REPO / "docs" / "runtime.md").read_text()
    return [b for b in FENCE.findall(text) if "from vaekit.runtime import" in b and "VAE.load(" in b]


def _cuda_problem() -> str | None:
    import onnxruntime as ort
    from vaekit.runtime.providers import cuda_device_problem

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return "this onnxruntime build has no CUDA provider"
    return cuda_device_problem()


@pytest.mark.parametrize("index", [0, 1], ids=["runtime", "runtime-gpu"])
def test_readme_runtime_snippets_run_as_pasted(tiny_ckpt, tmp_path, index):
    blocks = runtime_blocks()
    assert len(blocks) >= 2, "README's Runtime section lost its CPU or GPU example"
    block = blocks[index]
    if 'providers="cuda"' in block and _cuda_problem():
        pytest.skip(f"the GPU example needs a usable CUDA GPU: {_cuda_problem()}")
    # every checkpoint the block names is the tiny exported model (same contract, seconds to run)
    for name in set(re.findall(r'"checkpoints/([^"/]+)"', block)):
        (tmp_path / "checkpoints").mkdir(exist_ok=True)
        (tmp_path / "checkpoints" / name).symlink_to(tiny_ckpt, target_is_directory=True)
    code = "import sys\nsys.modules['torch'] = None  # the runtime must not need it\n" + block
    run = subprocess.run([sys.executable, "-c", code], check=False, cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, f"the README's runtime example failed as pasted:\n{run.stderr[-2000:]}"
    if index == 0:
        assert run.stdout.strip().splitlines()[-1].startswith("2 (1, 28, 28) ['")  # latent_dim, shape, providers
