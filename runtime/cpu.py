"""Which integer arithmetic ONNX Runtime's int8 kernels use on this CPU (stdlib only).

ONNX Runtime multiplies uint8 activations by int8 weights. On x86 CPUs with VNNI (AVX-512
VNNI, AVX-VNNI) each product is added straight into int32; on x86 CPUs without it (SSE4.1,
AVX2, AVX-512 without VNNI) two products are first added into an int16 (``vpmaddubsw``), which
saturates at 32767. ARM's kernels and WebAssembly accumulate in int32 too. vaekit's int8
graphs keep every such pair below 32767 (7-bit weights), so they compute the same on all of
them; an int8 graph exported before that can saturate on the int16 path.
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

#: the largest sum of two uint8 x int8 products the int16-pair kernels hold, and a uint8's largest value
INT16_MAX = 32767
UINT8_MAX = 255
#: x86 CPU flags (as /proc/cpuinfo spells them) whose int8 kernels accumulate in int32
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "avx512vnni", "avxvnni", "amx_int8")
INT16_PAIRS = "u8s8-int16-pairs"
INT32 = "u8s8-int32"
UNKNOWN = "unknown"


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none: macOS, Windows)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def is_x86() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")


@functools.cache
def int8_kernel() -> str:
    """:data:`INT16_PAIRS` (x86 without VNNI), :data:`INT32` (VNNI or not x86) or :data:`UNKNOWN`
    (x86 whose flags cannot be read here)."""
    if not is_x86():
        return INT32
    flags = cpu_flags()
    if not flags:
        return UNKNOWN
    return INT32 if any(f in flags for f in VNNI_FLAGS) else INT16_PAIRS


def simd_summary() -> str:
    """The flags that decide ONNX Runtime's kernels here, e.g. ``avx2 avx512f avx512_vnni``."""
    wanted = ("sse4_1", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni",
              "avx512_bf16", "amx_int8", "asimd", "asimddp")
    flags = cpu_flags()
    return " ".join(f for f in wanted if f in flags) or platform.machine()
