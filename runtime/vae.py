"""A torch-free VAE: the two exported ONNX graphs behind a small numpy API.

    from vaekit.runtime import VAE
    vae = VAE.load("checkpoints/mnist-z2")            # or the export folder itself
    mean, logvar = vae.encode(images)                 # uint8 or float [N, C, H, W] / [C, H, W] / [H, W]
    images = vae.decode(z)                            # z [N, D] or [D] -> float32 in [0, 1]
    images = vae.sample(16, seed=0, temperature=0.8)

Only numpy and onnxruntime (or onnxruntime-gpu) are imported. Both sessions are created
once, in :meth:`VAE.load`, and reused.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from .contract import (
    CONTRACT_KEYS,
    EXAMPLES_FILE,
    GRAPH_NAMES,
    PRECISIONS,
    find_export_dir,
    graph_file,
    graph_shapes,
    metadata_props,
    read_contract,
    sha256_file,
)

log = logging.getLogger("vaekit.runtime")

CPU, CUDA, TENSORRT = "CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"
#: short names accepted by ``providers=``
PROVIDER_ALIASES = {"cpu": [CPU], "cuda": [CUDA, CPU], "tensorrt": [TENSORRT, CUDA, CPU]}
METHODS = ("linear", "slerp")


# ----------------------------------------------------------------------------- providers


@functools.lru_cache(maxsize=1)
def cuda_device_problem() -> str | None:
    """Why no CUDA GPU can be used here (``None`` when the driver reports one).

    onnxruntime-gpu lists CUDA as available whenever it was *built* with it; asking the
    driver first keeps a GPU-less machine from paying for (and printing) a failed CUDA
    session. The session's own ``get_providers()`` still has the last word.
    """
    if sys.platform == "darwin":
        return "CUDA does not run on macOS"
    names = ("nvcuda.dll",) if sys.platform == "win32" else ("libcuda.so.1", "libcuda.so")
    for name in names:
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    else:
        return f"no NVIDIA driver found ({names[0]} cannot be loaded)"
    rc = lib.cuInit(0)
    if rc != 0:
        return f"the NVIDIA driver has no usable GPU (cuInit returned {rc})"
    count = ctypes.c_int(0)
    if lib.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value == 0:
        return "the NVIDIA driver sees no GPU (check CUDA_VISIBLE_DEVICES)"
    return None


ProviderSpec = str | tuple[str, dict[str, Any]]


def resolve_providers(providers: str | Sequence[ProviderSpec]) -> tuple[list[ProviderSpec], str | None]:
    """The provider list to hand to onnxruntime, and why CUDA was skipped (if it was).

    ``"auto"``: CUDA then CPU when this onnxruntime build has CUDA and the driver reports a
    GPU, else CPU. ``"cpu"``, ``"cuda"``, ``"tensorrt"``: that provider (with fallbacks).
    A list of onnxruntime provider names (or ``(name, options)`` pairs) is used as given.
    """
    available = ort.get_available_providers()
    if isinstance(providers, str):
        if providers == "auto":
            if CUDA not in available:
                return [CPU], "this onnxruntime build has no CUDA (install onnxruntime-gpu)"
            problem = cuda_device_problem()
            if problem:
                return [CPU], problem
            return [CUDA, CPU], None
        providers = PROVIDER_ALIASES.get(providers.lower(), [providers])
    if not isinstance(providers, (list, tuple)) or not providers:
        raise ValueError(
            f"providers must be 'auto', 'cpu', 'cuda', 'tensorrt' or a non-empty list of "
            f"onnxruntime provider names, got {providers!r}"
        )
    known = ort.get_all_providers()
    for spec in providers:
        name = spec[0] if isinstance(spec, tuple) else spec
        if not isinstance(name, str) or name not in known:
            raise ValueError(
                f"unknown execution provider {name!r}: use 'auto', 'cpu', 'cuda', 'tensorrt' or "
                f"one of onnxruntime's names, e.g. {available}"
            )
        if name not in available:
            raise ValueError(
                f"execution provider {name!r} is not in this onnxruntime build (it offers "
                f"{available}): install the onnxruntime package that has it, or use 'auto'"
            )
    return list(providers), None


def _provider_name(spec: ProviderSpec) -> str:
    return spec[0] if isinstance(spec, tuple) else spec


# ----------------------------------------------------------------------------- sessions


def _require_finite(a: np.ndarray, what: str, kinds: str, fix: str) -> None:
    bad = int(a.size - np.count_nonzero(np.isfinite(a)))
    if bad:
        raise ValueError(f"{what} contain {bad} non-finite values ({kinds}): {fix}")


def _session(
    path: Path, providers: list[ProviderSpec], threads: int | None
) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only; the chosen providers are reported by VAE
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except Exception as e:  # onnxruntime raises its own pybind error types (InvalidProtobuf, Fail)
        raise ValueError(
            f"{path} is not a loadable ONNX graph ({type(e).__name__}: {str(e)[:300]}): the file "
            f"is corrupt or was written by an incompatible exporter; re-export with "
            f"`python -m vaekit.export CHECKPOINT`"
        ) from e


def _check_graph(
    session: ort.InferenceSession, path: Path, contract: dict[str, Any], graph: str, precision: str
) -> None:
    """The graph's names, shapes and metadata must match vaekit.json."""
    fix = "re-export the whole folder with `python -m vaekit.export CHECKPOINT`"
    inputs, outputs = GRAPH_NAMES[graph]
    got_in = tuple(i.name for i in session.get_inputs())
    got_out = tuple(o.name for o in session.get_outputs())
    if got_in != inputs or got_out != outputs:
        raise ValueError(
            f"{path.name} has inputs {got_in} and outputs {got_out}, but a vaekit {graph} has "
            f"{inputs} -> {outputs}: it is not a vaekit {graph} graph; {fix}"
        )
    want = graph_shapes(contract, graph)
    for arg in (*session.get_inputs(), *session.get_outputs()):
        dims = [d if isinstance(d, int) else "N" for d in arg.shape]
        if arg.type != "tensor(float)" or dims != want[arg.name]:
            raise ValueError(
                f"{path.name}: {arg.name!r} is {arg.type} {arg.shape}, but vaekit.json says "
                f"float32 {want[arg.name]}; the graph and vaekit.json come from different exports; {fix}"
            )
    meta = session.get_modelmeta().custom_metadata_map
    expected = metadata_props(contract, graph=graph, precision=precision)
    bad = {k: (meta.get(k), v) for k, v in expected.items() if meta.get(k) != v and k != "format"}
    if bad:
        listed = ", ".join(f"{k}: graph {g!r} vs vaekit.json {j!r}" for k, (g, j) in bad.items())
        raise ValueError(
            f"the metadata of {path.name} does not match vaekit.json ({listed}): the files come "
            f"from different exports or were edited; {fix}"
        )


# ----------------------------------------------------------------------------- the VAE


@dataclass(frozen=True)
class Examples:
    """Real test images shipped with an export: ``images`` uint8 [N, C, H, W], ``labels`` [N]."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]


class VAE:
    """Encoder and decoder ONNX sessions behind a numpy API. Build it with :meth:`VAE.load`."""

    def __init__(
        self, *, folder: Path, metadata: dict[str, Any], encoder: ort.InferenceSession,
        decoder: ort.InferenceSession, max_batch: int, precision: str,
    ):
        self.folder = folder
        self.metadata = metadata
        self.precision = precision
        self.max_batch = max_batch
        self._encoder = encoder
        self._decoder = decoder

    # -- construction

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        *,
        providers: str | Sequence[ProviderSpec] = "auto",
        threads: int | None = None,
        max_batch: int = 1024,
        precision: str = "fp32",
    ) -> VAE:
        """Open an export folder (or a checkpoint folder with an ``onnx/`` subfolder).

        ``providers``: ``"auto"`` (CUDA when a GPU is usable, else CPU; the reason is
        logged), ``"cpu"``, ``"cuda"``, ``"tensorrt"`` or a list of onnxruntime provider
        names. ``threads``: intra-op threads (None: onnxruntime's default). ``max_batch``:
        the largest batch a call accepts. ``precision``: ``fp32``, or ``fp16``/``int8`` when
        the folder was exported with ``--fp16``/``--int8``.
        """
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"threads must be a positive int or None (onnxruntime's default), got {threads!r}")
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch must be a positive int, got {max_batch!r}")
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")
        folder = find_export_dir(path)
        contract = read_contract(folder)
        chosen, skipped = resolve_providers(providers)
        wants_gpu = _provider_name(chosen[0]) != CPU
        if wants_gpu:
            _preload_cuda_libraries()

        sessions = {}
        for graph in GRAPH_NAMES:
            name = graph_file(graph, precision)
            file = folder / name
            if not file.is_file():
                hint = "" if precision == "fp32" else f" --{precision}"
                raise FileNotFoundError(
                    f"{file} is missing: re-export with `python -m vaekit.export CHECKPOINT --out "
                    f"{folder}{hint}`"
                )
            recorded = _recorded_sha(contract, graph, precision)
            if recorded is not None and sha256_file(file) != recorded:
                raise ValueError(
                    f"{file} is corrupt or was replaced: its sha256 differs from the one in "
                    f"vaekit.json; re-export with `python -m vaekit.export CHECKPOINT --out {folder}`"
                )
            sessions[graph] = _session(file, chosen, threads)
            _check_graph(sessions[graph], file, contract, graph, precision)

        used = sessions["decoder"].get_providers()
        if skipped:
            log.info("using CPUExecutionProvider: %s", skipped)
        elif _provider_name(chosen[0]) not in used:
            log.warning(
                "asked for %s but onnxruntime runs on %s (its CUDA/TensorRT "
                "libraries failed to load: see onnxruntime's message above; install CUDA and "
                "cuDNN versions that match onnxruntime-gpu, or pass providers='cpu')",
                [_provider_name(p) for p in chosen], used,
            )
        return cls(folder=folder, metadata=contract, encoder=sessions["encoder"],
                   decoder=sessions["decoder"], max_batch=max_batch, precision=precision)

    # -- facts

    @property
    def latent_dim(self) -> int:
        return int(self.metadata["latent_dim"])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)``."""
        m = self.metadata
        return int(m["channels"]), int(m["height"]), int(m["width"])

    @property
    def providers(self) -> list[str]:
        """The execution providers onnxruntime actually uses (from the sessions)."""
        return list(self._decoder.get_providers())

    def __repr__(self) -> str:
        m = self.metadata
        return (f"VAE({str(self.folder)!r}, image_shape={self.image_shape}, latent_dim="
                f"{self.latent_dim}, dataset={m['dataset']!r}, precision={self.precision!r}, "
                f"providers={self.providers})")

    # -- inference

    def encode(self, images: Any) -> tuple[np.ndarray, np.ndarray]:
        """``images`` [N, C, H, W] (or one image [C, H, W] / [H, W]) -> ``(mean, logvar)``.

        uint8 images are scaled by 1/255; float images must lie in [0, 1]. Returns float32
        ``[N, D]`` each, or ``[D]`` for a single image.
        """
        x, single = self._images(images)
        mean, logvar = self._encoder.run(None, {"image": x})
        return (mean[0], logvar[0]) if single else (mean, logvar)

    def decode(self, z: Any) -> np.ndarray:
        """``z`` [N, D] (or one latent [D]) -> images float32 [N, C, H, W] (or [C, H, W]) in [0, 1]."""
        z, single = self._latents(z)
        images = self._decoder.run(None, {"z": z})[0]
        return images[0] if single else images

    def reconstruct(self, images: Any) -> np.ndarray:
        """Decode the posterior mean of each image: same shape as the input, float32 in [0, 1]."""
        x, single = self._images(images)
        mean = self._encoder.run(None, {"image": x})[0]
        out = self._decoder.run(None, {"z": mean})[0]
        if single:
            return out[0].reshape(np.shape(images))
        return out

    def sample(self, n: int, *, seed: int | None = None, temperature: float = 1.0) -> np.ndarray:
        """``n`` images decoded from z ~ N(0, temperature^2 I): float32 [n, C, H, W] in [0, 1]."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        if not (isinstance(temperature, (int, float, np.floating)) and np.isfinite(temperature)
                and temperature >= 0):
            raise ValueError(f"temperature must be a finite number >= 0 (1.0: the prior), got {temperature!r}")
        self._check_batch(int(n))
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((int(n), self.latent_dim), dtype=np.float32) * np.float32(temperature)
        return self._decoder.run(None, {"z": z})[0]

    def interpolate(self, a: Any, b: Any, steps: int = 8, *, method: str = "linear") -> np.ndarray:
        """Images along a path from ``a`` to ``b``: float32 [steps, C, H, W] in [0, 1].

        ``a`` and ``b`` are latents [D] or single images (encoded to their posterior mean).
        ``method``: ``linear`` or ``slerp`` (spherical, keeps the norm typical of the prior).
        """
        za, zb = self._endpoint(a, "a"), self._endpoint(b, "b")
        return self.decode(interpolate_latents(za, zb, steps, method=method))

    def examples(self) -> Examples:
        """The test images saved next to the graphs (``examples.npz``)."""
        path = self.folder / EXAMPLES_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: the export ran without the dataset; re-export with the "
                f"data present (`python -m vaekit.export CHECKPOINT --data-root DIR`)"
            )
        with np.load(path, allow_pickle=False) as f:
            return Examples(f["images"], f["labels"], tuple(str(c) for c in f["classes"]))

    # -- input checks

    def _check_batch(self, n: int) -> None:
        if n > self.max_batch:
            raise ValueError(
                f"batch of {n} exceeds max_batch={self.max_batch}: split it into chunks, or "
                f"load with VAE.load(..., max_batch={n})"
            )

    def _images(self, images: Any) -> tuple[np.ndarray, bool]:
        """-> (float32 [N, C, H, W] in [0, 1], whether the input was a single image)."""
        x = np.asarray(images)
        c, h, w = self.image_shape
        want = f"(N, {c}, {h}, {w}) for a batch, ({c}, {h}, {w})" + (f" or ({h}, {w})" if c == 1 else "")
        want += " for one image"
        shape = tuple(x.shape)
        single = x.ndim in (2, 3)
        if x.ndim == 2 and c == 1 and shape == (h, w):
            x = x[None, None]
        elif x.ndim == 3 and shape == (c, h, w):
            x = x[None]
        elif x.ndim == 4 and shape[1:] == (c, h, w):
            pass
        else:
            raise ValueError(self._shape_problem(shape, want))
        if x.shape[0] == 0:
            raise ValueError("got an empty batch (0 images): pass at least one image")
        self._check_batch(x.shape[0])
        if x.dtype == np.uint8:
            return np.ascontiguousarray(x, dtype=np.float32) / np.float32(255), single
        if x.dtype == np.bool_:
            return np.ascontiguousarray(x, dtype=np.float32), single
        if not np.issubdtype(x.dtype, np.floating):
            raise ValueError(
                f"images have dtype {x.dtype}: pass uint8 (0..255) or float in [0, 1] "
                f"(e.g. images.astype(np.uint8) for 0..255 integers)"
            )
        x = np.ascontiguousarray(x, dtype=np.float32)
        _require_finite(x, "images", "NaN or inf", "clean them (np.nan_to_num) before encoding")
        lo, hi = float(x.min()), float(x.max())
        if lo < 0 or hi > 1:
            raise ValueError(
                f"float images must be in [0, 1], got values in [{lo:g}, {hi:g}]: divide 0..255 "
                f"images by 255 (or pass uint8), and map [-1, 1] images with (x + 1) / 2"
            )
        return x, single

    def _shape_problem(self, shape: tuple[int, ...], want: str) -> str:
        c, h, w = self.image_shape
        msg = f"images of shape {shape} do not fit this model: expected {want}"
        if len(shape) not in (2, 3, 4):
            return f"{msg} (got rank {len(shape)})"
        if shape[-2:] != (h, w) and shape[-3:-1] != (h, w):
            return f"{msg}; the images are not {h}x{w}: resize them to {h}x{w} first"
        if len(shape) >= 3 and shape[-1] == c and shape[-3:-1] == (h, w) and c > 1:
            return f"{msg}; they look channels-last (H, W, C): use images.transpose(0, 3, 1, 2) " \
                   f"for a batch or image.transpose(2, 0, 1) for one image"
        if len(shape) == 3 and c == 1 and shape[1:] == (h, w):
            return f"{msg}; for a batch of {shape[0]} grayscale images add the channel axis: images[:, None]"
        got_c = shape[1] if len(shape) == 4 else shape[0] if len(shape) == 3 else 1
        return f"{msg}; got {got_c} channels where the model takes {c} (convert the colour mode)"

    def _latents(self, z: Any) -> tuple[np.ndarray, bool]:
        """-> (float32 [N, D], whether the input was a single latent [D])."""
        z = np.asarray(z)
        d = self.latent_dim
        if z.ndim == 1 and z.shape[0] == d:
            z, single = z[None], True
        elif z.ndim == 2 and z.shape[1] == d:
            single = False
        else:
            raise ValueError(
                f"latents of shape {tuple(z.shape)} do not fit this model: expected (N, {d}) for a "
                f"batch or ({d},) for one latent (latent_dim={d})"
            )
        if z.shape[0] == 0:
            raise ValueError("got an empty batch (0 latents): pass at least one latent")
        self._check_batch(z.shape[0])
        if not (np.issubdtype(z.dtype, np.floating) or np.issubdtype(z.dtype, np.integer)):
            raise ValueError(f"latents have dtype {z.dtype}: pass real numbers (float32)")
        with np.errstate(over="ignore"):  # too large for float32 becomes inf, reported below
            z = np.ascontiguousarray(z, dtype=np.float32)
        _require_finite(z, "latents", "NaN or inf, or too large for float32", "pass finite latents")
        return z, single

    def _endpoint(self, v: Any, name: str) -> np.ndarray:
        v = np.asarray(v)
        if v.ndim == 1:
            return self._latents(v)[0][0]
        if v.ndim in (2, 3):
            return self.encode(v)[0]
        raise ValueError(
            f"interpolate: {name} must be a latent ({self.latent_dim},) or one image "
            f"{self.image_shape}, got shape {tuple(v.shape)}"
        )


def interpolate_latents(a: np.ndarray, b: np.ndarray, steps: int, *, method: str = "linear") -> np.ndarray:
    """``steps`` latents from ``a`` to ``b`` inclusive: float32 [steps, D].

    ``slerp`` follows the great circle between the two directions while interpolating the
    norms linearly; it falls back to ``linear`` when a or b is zero or they are parallel.
    """
    if method not in METHODS:
        raise ValueError(f"unknown interpolation method {method!r}; choose one of {METHODS}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
        raise ValueError(f"steps must be an int >= 2 (both endpoints included), got {steps!r}")
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"endpoints must be two latents of the same shape (D,), got {a.shape} and {b.shape}")
    t = np.linspace(0.0, 1.0, int(steps))[:, None]
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if method == "slerp" and na > 0 and nb > 0:
        ua, ub = a / na, b / nb
        omega = np.arccos(np.clip(ua @ ub, -1.0, 1.0))
        if np.sin(omega) > 1e-6:
            s = np.sin(omega)
            direction = (np.sin((1 - t) * omega) * ua + np.sin(t * omega) * ub) / s
            return (((1 - t) * na + t * nb) * direction).astype(np.float32)
    return ((1 - t) * a + t * b).astype(np.float32)


def _recorded_sha(contract: dict[str, Any], graph: str, precision: str) -> str | None:
    section = contract.get(graph) if precision == "fp32" else \
        contract.get("variants", {}).get(precision, {}).get(graph)
    return section.get("sha256") if isinstance(section, dict) else None


def _preload_cuda_libraries() -> None:
    """Load CUDA/cuDNN from the nvidia-* wheels (e.g. torch's) so the CUDA provider finds them."""
    preload = getattr(ort, "preload_dlls", None)
    if preload is None:
        return
    try:
        preload()
    except OSError as e:  # a missing library: the session then falls back, and says so
        log.debug("onnxruntime.preload_dlls failed: %s", e)


__all__ = [
    "CONTRACT_KEYS",
    "VAE",
    "Examples",
    "cuda_device_problem",
    "interpolate_latents",
    "resolve_providers",
]
