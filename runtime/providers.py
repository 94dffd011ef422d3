"""Which ONNX Runtime execution providers a session gets, and with which options.

``"auto"`` picks CUDA when this onnxruntime build has it *and* the NVIDIA driver reports a
GPU, else CPU, and says so once (a WARNING: visible without any logging set-up).
:class:`CudaOptions` holds the CUDA provider options a user may set, checked up front.

Parity with the CPU provider (max |difference| of decoded pixels in [0, 1], fp32 graphs),
as :data:`PARITY_TOLERANCE` documents and ``tests/runtime/test_cuda.py`` checks:

- CPU: 1e-5 (same graph, same provider: only thread-count reordering of sums).
- CUDA fp32 with TF32 off (``CudaOptions(tf32=False)``): 1e-4.
- CUDA fp32 with TF32 on (onnxruntime's default): 1e-2. TF32 keeps 10 mantissa bits in
  convolutions and matrix products; seen on an H100: 1.8e-4 at batch 1 to 2.5e-3 at
  batch 1024 (``../shared/gpu/README.md``).

Torch-free and numpy-free: ctypes asks the driver, onnxruntime does the rest.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import onnxruntime as ort

log = logging.getLogger("vaekit.runtime")

CPU, CUDA, TENSORRT = "CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"
GPU_PROVIDERS = (CUDA, TENSORRT)
#: short names accepted by ``providers=``
PROVIDER_ALIASES = {"cpu": [CPU], "cuda": [CUDA, CPU], "tensorrt": [TENSORRT, CUDA, CPU]}
#: cuDNN convolution algorithm search (onnxruntime's ``cudnn_conv_algo_search``)
CONV_ALGO_SEARCH = ("EXHAUSTIVE", "HEURISTIC", "DEFAULT")
#: max |pixel difference| against the CPU provider that each set-up is documented to keep
PARITY_TOLERANCE = {"cpu": 1e-5, "cuda": 1e-4, "cuda-tf32": 1e-2}

ProviderSpec = str | tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class CudaOptions:
    """CUDA provider options (used when the session runs on CUDA; checked when built).

    ``device_id``: which GPU (0 = the first visible one). ``conv_algo_search``: how cuDNN
    picks convolution kernels: ``EXHAUSTIVE`` (benchmark each once per shape, fastest
    afterwards; onnxruntime's default), ``HEURISTIC`` (quick guess), ``DEFAULT``.
    ``tf32``: allow TF32 tensor cores in fp32 convolutions and matrix products (faster,
    pixels within 1e-2 of the CPU provider instead of 1e-4). ``cuda_graph``: capture a CUDA
    graph per batch size (up to :data:`vaekit.runtime.binding.MAX_CUDA_GRAPHS` sizes) and
    replay it, which removes the per-kernel launch cost; other sizes run uncaptured.
    """

    device_id: int = 0
    conv_algo_search: str = "EXHAUSTIVE"
    tf32: bool = True
    cuda_graph: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.device_id, bool) or not isinstance(self.device_id, int) or not 0 <= self.device_id < 1024:
            raise ValueError(f"CudaOptions.device_id must be an int in [0, 1024) (0: the first GPU), "
                             f"got {self.device_id!r}")
        if self.conv_algo_search not in CONV_ALGO_SEARCH:
            raise ValueError(f"CudaOptions.conv_algo_search must be one of {CONV_ALGO_SEARCH}, "
                             f"got {self.conv_algo_search!r}")
        for name in ("tf32", "cuda_graph"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"CudaOptions.{name} must be True or False, got {getattr(self, name)!r}")

    def provider_options(self) -> dict[str, str]:
        """The option strings onnxruntime's CUDA provider takes."""
        return {
            "device_id": str(self.device_id),
            "cudnn_conv_algo_search": self.conv_algo_search,
            "use_tf32": "1" if self.tf32 else "0",
            "enable_cuda_graph": "1" if self.cuda_graph else "0",
        }

    @property
    def parity_tolerance(self) -> float:
        """Max |pixel difference| from the CPU provider documented for these options."""
        return PARITY_TOLERANCE["cuda-tf32" if self.tf32 else "cuda"]


# ----------------------------------------------------------------------------- the driver


@functools.lru_cache(maxsize=1)
def cuda_devices() -> tuple[int, str | None]:
    """``(number of GPUs the NVIDIA driver reports, why none is usable or None)``.

    onnxruntime-gpu lists CUDA as available whenever it was *built* with it; asking the
    driver first keeps a GPU-less machine from paying for (and printing) a failed CUDA
    session. The session's own ``get_providers()`` still has the last word.
    """
    if sys.platform == "darwin":
        return 0, "CUDA does not run on macOS"
    names = ("nvcuda.dll",) if sys.platform == "win32" else ("libcuda.so.1", "libcuda.so")
    for name in names:
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    else:
        return 0, f"no NVIDIA driver found ({names[0]} cannot be loaded)"
    rc = lib.cuInit(0)
    if rc != 0:
        return 0, f"the NVIDIA driver has no usable GPU (cuInit returned {rc})"
    count = ctypes.c_int(0)
    if lib.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value == 0:
        return 0, "the NVIDIA driver sees no GPU (check CUDA_VISIBLE_DEVICES)"
    return count.value, None


def cuda_device_problem() -> str | None:
    """Why no CUDA GPU can be used here (``None`` when the driver reports one)."""
    return cuda_devices()[1]


def available_providers() -> list[str]:
    """The providers this onnxruntime build offers (a function, so tests can pretend)."""
    return ort.get_available_providers()


# ----------------------------------------------------------------------------- resolving


def provider_name(spec: ProviderSpec) -> str:
    return spec[0] if isinstance(spec, tuple) else spec


#: how a provider with options is written, for the messages
PAIR_EXAMPLE = 'providers=[("CUDAExecutionProvider", {"device_id": 0}), "CPUExecutionProvider"]'
#: the option values onnxruntime takes (it passes them on as strings)
OPTION_VALUE_TYPES = (str, int, float, bool)


def check_provider_specs(providers: Sequence[ProviderSpec]) -> None:
    """Each entry is a provider name or a ``(name, {option: value})`` tuple, as onnxruntime takes.

    onnxruntime itself refuses anything else only once it opens a session, where the error
    reads like a broken graph file (or, with a GPU provider first, is swallowed by its
    fallback to CPU); this refuses it up front, naming the entry and what is accepted.
    """
    if not isinstance(providers, (list, tuple)):
        raise ValueError(f"providers must be a list of onnxruntime provider names or (name, options) "
                         f"tuples, got {providers!r}: e.g. {PAIR_EXAMPLE}")
    if isinstance(providers, tuple) and len(providers) == 2 and isinstance(providers[1], dict):
        raise ValueError(f"providers={providers!r} is one (name, options) pair: wrap it in a list, "
                         f"e.g. providers=[{providers!r}]")
    for spec in providers:
        if isinstance(spec, str):
            continue
        if not isinstance(spec, (tuple, list)) or len(spec) != 2 or not isinstance(spec[0], str):
            raise ValueError(f"providers entry {spec!r} is neither a provider name nor a (name, options) "
                             f"tuple: pass names or (name, dict) tuples, e.g. {PAIR_EXAMPLE}")
        name, options = spec
        if isinstance(spec, list):
            raise ValueError(f"providers entry {spec!r} for {name!r} is a list: write the (name, options) "
                             f"pair as a tuple, e.g. {PAIR_EXAMPLE}")
        if not isinstance(options, dict):
            raise ValueError(f"the options of provider {name!r} must be a dict of option names to values, "
                             f"got {options!r} ({type(options).__name__}): e.g. {PAIR_EXAMPLE}")
        for key, value in options.items():
            if not isinstance(key, str):
                raise ValueError(f"provider {name!r} option {key!r} ({type(key).__name__}) must be named by "
                                 f"a string, as onnxruntime documents it: e.g. {PAIR_EXAMPLE}")
            if not isinstance(value, OPTION_VALUE_TYPES):
                raise ValueError(f"provider {name!r} option {key!r} must be a str, int, float or bool, got "
                                 f"{value!r} ({type(value).__name__}): e.g. {PAIR_EXAMPLE}")


def resolve_providers(providers: str | Sequence[ProviderSpec]) -> tuple[list[ProviderSpec], str | None]:
    """The provider list to hand to onnxruntime, and why CUDA was skipped (if it was).

    ``"auto"``: CUDA then CPU when this onnxruntime build has CUDA and the driver reports a
    GPU, else CPU. ``"cpu"``: CPU. ``"cuda"``, ``"tensorrt"``: that provider with fallbacks;
    refused with the reason when no GPU is usable. A list of onnxruntime provider names (or
    ``(name, options)`` pairs) is used as given.
    """
    available = available_providers()
    if isinstance(providers, str):
        key = providers.lower()
        if key == "auto":
            if CUDA not in available:
                return [CPU], "this onnxruntime build has no CUDA provider (install onnxruntime-gpu)"
            problem = cuda_device_problem()
            if problem:
                return [CPU], problem
            return [CUDA, CPU], None
        if key in ("cuda", "tensorrt"):
            wanted = PROVIDER_ALIASES[key][0]
            if wanted not in available:
                raise ValueError(
                    f"providers={providers!r}: this onnxruntime build has no {wanted} (it offers "
                    f"{available}): install onnxruntime-gpu, or pass providers='auto' or 'cpu'"
                )
            problem = cuda_device_problem()
            if problem:
                raise ValueError(f"providers={providers!r}, but {problem}: pass providers='auto' "
                                 f"(falls back to CPU) or 'cpu'")
        providers = PROVIDER_ALIASES.get(key, [providers])
    if not isinstance(providers, (list, tuple)) or not providers:
        raise ValueError(
            f"providers must be 'auto', 'cpu', 'cuda', 'tensorrt' or a non-empty list of "
            f"onnxruntime provider names, got {providers!r}"
        )
    known = ort.get_all_providers()
    check_provider_specs(providers)
    for spec in providers:
        name = provider_name(spec)
        if isinstance(name, str) and name.lower() in PROVIDER_ALIASES:
            raise ValueError(
                f"{name!r} names a whole provider setting, not one entry of a list: pass "
                f"providers={name.lower()!r} (a string), or the list {PROVIDER_ALIASES[name.lower()]}"
            )
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


def with_cuda_options(providers: list[ProviderSpec], cuda: CudaOptions) -> list[ProviderSpec]:
    """``providers`` with :class:`CudaOptions` attached to a bare CUDA entry.

    Refuses a ``device_id`` the driver does not have. A CUDA entry that already carries its
    own options dict is left as given.
    """
    if CUDA not in providers:
        return list(providers)
    count, problem = cuda_devices()
    if problem is None and cuda.device_id >= count:
        raise ValueError(
            f"CudaOptions(device_id={cuda.device_id}), but the driver sees {count} GPU(s) "
            f"(ids 0..{count - 1}): pick one of those, or check CUDA_VISIBLE_DEVICES"
        )
    return [(CUDA, cuda.provider_options()) if p == CUDA else p for p in providers]


_warned: set[str] = set()


def warn_once(message: str) -> None:
    """A WARNING through ``vaekit.runtime``'s logger, once per process per message."""
    if message not in _warned:
        _warned.add(message)
        log.warning(message)


def preload_cuda_libraries() -> None:
    """Load CUDA/cuDNN from the nvidia-* wheels (e.g. torch's) so the CUDA provider finds them."""
    preload = getattr(ort, "preload_dlls", None)
    if preload is None:
        return
    try:
        preload()
    except OSError as e:  # a missing library: the session then falls back, and says so
        log.debug("onnxruntime.preload_dlls failed: %s", e)


__all__ = [
    "CPU", "CUDA", "TENSORRT", "CONV_ALGO_SEARCH", "PARITY_TOLERANCE", "CudaOptions", "ProviderSpec",
    "available_providers", "check_provider_specs", "cuda_device_problem", "cuda_devices", "provider_name",
    "resolve_providers",
    "warn_once", "with_cuda_options",
]
