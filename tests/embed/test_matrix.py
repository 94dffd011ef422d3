"""Client matrix: every shipped graph in every ONNX client installed here, against Python ORT.

The reference is Python ORT's output on the same graph; for int8 graphs it is computed with
graph optimisations off (DequantizeLinear + float Conv), which involves none of the host's
int8 kernels, so the matrix means the same on an AVX2-only CPU as on an AVX-512 VNNI one.

Clients: Python ONNX Runtime (this venv: the reference), the oldest supported ONNX Runtime
(1.16) and OpenCV DNN 4 (each in its own venv, made by ``make old-clients``), OpenCV DNN 5
(``opencv-python-headless`` in this venv),
onnxruntime-node and onnxruntime-web in Chromium (``make npm-deps``). Each client runs each
graph on the same inputs (batch 2; int8 at batch 1 on OpenCV 4, its safe batch size) and must
match Python ORT on the same graph within the precision's tolerance, or fail in the way the
README documents (:data:`KNOWN_LIMITS`). The results are written to
``test-artifacts/compat-matrix.json`` (the README's table comes from it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from embed_support import NPM_HINT, ORT_NODE, REPO, shipped_exports
from vaekit.format import CONTRACT_FILE

pytestmark = pytest.mark.slow  # runs every client of the compatibility matrix

ARTIFACTS = REPO / "test-artifacts"
OLD_ORT_PYTHON = REPO / "build" / "ort-oldest" / "bin" / "python"
OPENCV4_PYTHON = REPO / "build" / "opencv-4" / "bin" / "python"
NODE_RUNNER = Path(__file__).resolve().parent / "run_graphs.mjs"
#: max |client - Python ORT| on the same graph (fp16 and int8 kernels differ between builds);
#: int8 relative to the output's scale: one requantisation step rounded the other way
#: int8: 6e-2 since the deeper mnist-z32/mnist-vamp decoders (2 blocks per stage, 2 bottleneck
#: blocks) accumulate more requantisation steps: wasm and OpenCV 4 differ from MLAS by 0.043-0.05
TOLERANCE = {"fp32": 1e-4, "fp16": 1e-2, "int8": 6e-2}
#: what a client cannot do, as the README says: (client, precision or "label") -> reason;
#: "label": graphs with a conditional model's int64 label input
KNOWN_LIMITS = {("opencv-5", "int8"): "OpenCV DNN 5 does not run QDQ int8 graphs",
                ("opencv-4", "label"): "OpenCV DNN 4 mishandles the int64 label input of a "
                                       "conditional model (wrong output size or an error)"}
BATCH = 2

RESULTS: dict[str, dict] = {}


def precision_of(file: str) -> str:
    """``decoder.int8.onnx`` -> int8; ``decoder.fast.onnx`` (a distilled decoder) -> fp32."""
    tag = file.split(".")[-2]
    return tag if tag in ("fp16", "int8") else "fp32"


def graphs() -> list[tuple[str, Path]]:
    """``("mnist-z2/decoder.fp16.onnx", path)`` for every shipped graph."""
    return [(f"{folder.parent.name}/{p.name}", p) for folder in shipped_exports()
            for p in sorted(folder.glob("*.onnx"))]


@pytest.fixture(scope="module")
def cases() -> dict[str, dict]:
    """Per graph: its inputs (batch 2, seeded) and Python ORT's outputs on them (int8: literal)."""
    found = graphs()
    assert found, "no shipped graphs under checkpoints/*/onnx: the shipped exports are in git"
    rng = np.random.default_rng(0)
    out = {}
    for key, path in found:
        options = ort.SessionOptions()
        if precision_of(path.name) == "int8":  # host-independent: no int8 kernel involved
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feeds = {}
        for i in session.get_inputs():
            shape = [BATCH if not isinstance(d, int) else d for d in i.shape]
            if i.type == "tensor(int64)":  # a conditional model's class label
                classes = json.loads((path.parent / CONTRACT_FILE).read_text())["num_classes"]
                feeds[i.name] = rng.integers(0, classes, shape, dtype=np.int64)
            else:
                feeds[i.name] = (rng.random(shape, dtype=np.float32) if len(shape) == 4
                                 else rng.standard_normal(shape, dtype=np.float32))
        outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
        out[key] = {"path": path, "precision": precision_of(path.name), "inputs": feeds, "outputs": outputs}
    return out


def check(client: str, version: str, cases: dict, got: dict[str, dict | str]) -> None:
    """Compare a client's outputs (or error strings) with Python ORT's; record the result."""
    rows, problems = {}, []
    for key, case in cases.items():
        precision, result = case["precision"], got[key]
        limit = KNOWN_LIMITS.get((client, precision)) or (
            KNOWN_LIMITS.get((client, "label")) if "label" in case["inputs"] else None)
        if isinstance(result, str):
            rows[key] = {"loaded": False, "error": result[:300]}
            if limit is None:
                problems.append(f"{key}: {result[:300]}")
            continue
        wrong = {n: np.asarray(result[n]).size for n, ref in case["outputs"].items()
                 if np.asarray(result[n]).size != ref.size}
        if wrong:  # a client that returns another batch's worth of output computed it wrong
            rows[key] = {"loaded": True, "error": f"output sizes {wrong}, expected "
                                                  f"{ {n: r.size for n, r in case['outputs'].items()} }"}
            if limit is None:
                problems.append(f"{key}: {rows[key]['error']}")
            continue
        diff = max(float(np.abs(np.asarray(result[n]).reshape(ref.shape) - ref).max())
                   for n, ref in case["outputs"].items())
        scale = max(1.0, *(float(np.abs(r).max()) for r in case["outputs"].values())) if precision == "int8" else 1.0
        rows[key] = {"loaded": True, "max_abs_diff": diff}
        if not diff <= TOLERANCE[precision] * scale:
            problems.append(f"{key}: differs from Python ORT by {diff:.3g} (> {TOLERANCE[precision] * scale:.3g})")
    RESULTS[client] = {"version": version, "graphs": rows}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "compat-matrix.json").write_text(json.dumps(RESULTS, indent=1, sort_keys=True))
    assert not problems, f"{client} {version}:\n" + "\n".join(problems)


def test_python_onnxruntime_current(cases):
    got = {}
    for key, case in cases.items():
        session = ort.InferenceSession(str(case["path"]), providers=["CPUExecutionProvider"])
        got[key] = dict(zip([o.name for o in session.get_outputs()], session.run(None, case["inputs"])))
    check("onnxruntime", ort.__version__, cases, got)


# run in another venv: sys.argv[1] = inputs .npz, [2] = outputs .npz, [3] = "ort" or "opencv"
VENV_SCRIPT = """
import sys, numpy as np
data = np.load(sys.argv[1])
keys = sorted({k.split("|")[0] for k in data.files})
out = {}
if sys.argv[3] == "ort":
    import onnxruntime as ort
    version = ort.__version__
else:
    import cv2
    version = cv2.__version__
for key in keys:
    path = str(data[key + "|path"])
    names = [str(n) for n in data[key + "|outputs"]]
    feeds = {k.split("|")[2]: data[k] for k in data.files if k.startswith(key + "|in|")}
    try:
        if sys.argv[3] == "ort":
            results = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(names, feeds)
        else:
            net = cv2.dnn.readNetFromONNX(path)
            for name, value in feeds.items():
                net.setInput(value, name)
            results = net.forward(names)
        out.update({key + "|" + n: np.asarray(v) for n, v in zip(names, results)})
    except Exception as e:
        out[key + "|error"] = np.array(str(e).strip().splitlines()[-1])
np.savez(sys.argv[2], version=np.array(version), **out)
"""


def run_in_venv(python: Path, kind: str, cases: dict, tmp_path: Path) -> tuple[str, dict]:
    """Run every case with ``kind`` ("ort" or "opencv") in the venv of ``python``."""
    pack = {}
    for key, case in cases.items():
        pack[f"{key}|path"] = np.array(str(case["path"]))
        pack[f"{key}|outputs"] = np.array(list(case["outputs"]))
        pack.update({f"{key}|in|{n}": v for n, v in case["inputs"].items()})
    np.savez(tmp_path / "in.npz", **pack)
    run = subprocess.run([str(python), "-c", VENV_SCRIPT, str(tmp_path / "in.npz"), str(tmp_path / "out.npz"), kind],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, f"{python} died (exit {run.returncode}): {run.stderr[-2000:]}"
    with np.load(tmp_path / "out.npz") as out:
        got = {key: (str(out[f"{key}|error"]) if f"{key}|error" in out.files else
                     {n: out[f"{key}|{n}"] for n in case["outputs"]}) for key, case in cases.items()}
        return str(out["version"]), got


def test_oldest_supported_onnxruntime(cases, tmp_path):
    if not OLD_ORT_PYTHON.is_file():
        pytest.skip(f"no {OLD_ORT_PYTHON}: `make old-clients` makes a venv with onnxruntime 1.16 "
                    f"(needs PyPI; skipped only where it is unreachable)")
    version, got = run_in_venv(OLD_ORT_PYTHON, "ort", cases, tmp_path)
    check("onnxruntime-oldest", version, cases, got)


def at_safe_batch(cases: dict, opencv_major: int) -> dict:
    """OpenCV 4 computes int8 graphs right at batch 1 only (``CLIENT_LIMITS``): first item there."""
    if opencv_major >= 5:
        return cases
    return {k: {**c, "inputs": {n: v[:1] for n, v in c["inputs"].items()},
                "outputs": {n: v[:1] for n, v in c["outputs"].items()}} if c["precision"] == "int8" else c
            for k, c in cases.items()}


def test_opencv_dnn(cases):
    cv2 = pytest.importorskip("cv2", reason="opencv-python-headless is not installed (`pip install -e .[dev]`)")
    cases = at_safe_batch(cases, int(cv2.__version__.split(".")[0]))
    got = {}
    for key, case in cases.items():
        try:
            net = cv2.dnn.readNetFromONNX(str(case["path"]))
            for name, value in case["inputs"].items():
                net.setInput(value, name)
            outs = net.forward(list(case["outputs"]))
            got[key] = {n: np.asarray(o) for n, o in zip(case["outputs"], outs)}
        except cv2.error as e:
            got[key] = str(e).strip().splitlines()[-1]
    check(f"opencv-{cv2.__version__.split('.')[0]}", cv2.__version__, cases, got)


def test_opencv_dnn_4(cases, tmp_path):
    """OpenCV 4 in its own venv: fp32/fp16 at batch 2 (it died with SIGFPE before the static reshapes)."""
    if not OPENCV4_PYTHON.is_file():
        pytest.skip(f"no {OPENCV4_PYTHON}: `make old-clients` makes a venv with opencv-python-headless 4 "
                    f"(needs PyPI; skipped only where it is unreachable)")
    cases = at_safe_batch(cases, 4)
    version, got = run_in_venv(OPENCV4_PYTHON, "opencv", cases, tmp_path)
    check("opencv-4", version, cases, got)


def test_onnxruntime_node(cases, tmp_path):
    import shutil

    node = shutil.which("node")
    if node is None or not ORT_NODE.is_file():
        pytest.skip("node is not installed" if node is None else
                    f"onnxruntime-node is not installed in examples/node/node_modules: {NPM_HINT}")
    jobs = []
    for i, (key, case) in enumerate(cases.items()):
        inputs = {}
        for name, value in case["inputs"].items():
            dtype = "int64" if value.dtype == np.int64 else "float32"
            value.astype("<i8" if dtype == "int64" else "<f4").tofile(tmp_path / f"{i}.{name}.in")
            inputs[name] = {"dims": list(value.shape), "file": str(tmp_path / f"{i}.{name}.in"),
                            "dtype": dtype}
        jobs.append({"graph": str(case["path"]), "inputs": inputs, "out": str(tmp_path / str(i))})
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    run = subprocess.run([node, str(NODE_RUNNER), str(tmp_path / "jobs.json")],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    got = {}
    for i, (key, case) in enumerate(cases.items()):
        error = tmp_path / f"{i}.error"
        got[key] = error.read_text() if error.exists() else {
            n: np.fromfile(tmp_path / f"{i}.{n}.f32", dtype="<f4") for n in case["outputs"]}
    version = run.stdout.split()[1].rstrip(":") if run.stdout.startswith("onnxruntime-node") else "?"
    check("onnxruntime-node", version, cases, got)


WEB_RUN = """async ([url, feeds]) => {
  try {
    const session = await ort.InferenceSession.create(url, {executionProviders: ['wasm']});
    const inputs = {};
    for (const [name, [dims, data, dtype]] of Object.entries(feeds)) inputs[name] = dtype === 'int64'
      ? new ort.Tensor('int64', BigInt64Array.from(data, BigInt), dims)
      : new ort.Tensor('float32', Float32Array.from(data), dims);
    const out = await session.run(inputs);
    const result = {};
    for (const [name, t] of Object.entries(out)) result[name] = Array.from(t.data);
    await session.release();
    return result;
  } catch (e) { return String(e.message ?? e); }
}"""


def test_onnxruntime_web_in_chromium(cases, browser, static_site):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(120_000)
    model = cases[next(iter(cases))]["path"].parent.relative_to(REPO).as_posix()
    page.goto(f"{static_site}web/index.html?model=/{model}/&ep=wasm")
    page.evaluate("() => window.vaekit.ready")
    got = {}
    for key, case in cases.items():
        url = "/" + case["path"].relative_to(REPO).as_posix()
        feeds = {n: [list(v.shape), v.ravel().tolist(), str(v.dtype)] for n, v in case["inputs"].items()}
        got[key] = page.evaluate(WEB_RUN, [url, feeds])
    version = page.evaluate("() => ort.env.versions ? ort.env.versions.web : '?'")
    context.close()
    check("onnxruntime-web (wasm, Chromium)", version, cases, got)


if __name__ == "__main__":  # pragma: no cover - print the matrix a previous run wrote
    print((ARTIFACTS / "compat-matrix.json").read_text())
    sys.exit(0)
