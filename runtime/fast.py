"""The distilled fast decoder (``decoder.fast.onnx``) of an export folder, checked before use.

``VAE.load(path, decoder="fast")`` opens it in place of ``decoder.onnx``. It is refused with
a message that says what to do when the export has none (``vaekit.json`` has no
``fast_decoder`` record), when the file is missing or its sha256 differs from the record,
and when its inputs, outputs or metadata (latent size, image shape) disagree with the
teacher's contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import onnxruntime as ort
from vaekit.format import (
    CONTRACT_FILE,
    DECODER_KINDS,
    Contract,
    GraphRecord,
    fast_decoder_file,
    sha256_file,
)

from .providers import ProviderSpec
from .session import build_session, check_graph

DISTILL = "python -m vaekit.train.distill CHECKPOINT"


def check_decoder_kind(decoder: Any) -> str:
    if decoder not in DECODER_KINDS:
        raise ValueError(f"unknown decoder {decoder!r}; choose one of {DECODER_KINDS} "
                         f"(\"fast\": the distilled decoder.fast.onnx, where the export has one)")
    return decoder


def fast_record(folder: Path, contract: Contract, precision: str = "fp32") -> GraphRecord:
    """The ``vaekit.json`` record of the fast decoder's graph at ``precision`` (refused when absent)."""
    fast = contract.fast_decoder
    if fast is None:
        raise FileNotFoundError(
            f"{folder} has no fast decoder ({CONTRACT_FILE} has no \"fast_decoder\"): distil one "
            f"with `{DISTILL}`, then re-export with `python -m vaekit.export CHECKPOINT`, or load "
            f"with decoder=\"full\"")
    record = fast.at(precision)
    if record is None:
        how = ("re-export with `python -m vaekit.export CHECKPOINT --fp16` (with the student in "
               "CHECKPOINT/student)" if precision == "fp16" else
               "no int8 copy of a student is written (see \"not_written\" in its record)")
        raise FileNotFoundError(f"{folder} has no {precision} fast decoder: {how}, or load with "
                                f"precision=\"fp32\"")
    return record


def open_fast_decoder(folder: Path, contract: Contract, precision: str, *,
                      providers: Sequence[ProviderSpec], threads: int | None) -> ort.InferenceSession:
    """The session of ``decoder.fast[.PRECISION].onnx``, checked against ``vaekit.json``."""
    record = fast_record(folder, contract, precision)
    file = folder / fast_decoder_file(precision)
    fix = "re-export with `python -m vaekit.export CHECKPOINT` (or load with decoder=\"full\")"
    if not file.is_file():
        raise FileNotFoundError(f"{file} is missing although {CONTRACT_FILE} lists it: {fix}")
    if sha256_file(file) != record.sha256:
        raise ValueError(f"{file} is corrupt or was replaced: its sha256 differs from the one in "
                         f"{CONTRACT_FILE}; {fix}")
    session = build_session(file, providers=providers, threads=threads, fix=fix)
    check_graph(session, file, contract, "decoder", precision)
    kind = session.get_modelmeta().custom_metadata_map.get("decoder_kind")
    if kind != "fast":
        raise ValueError(f"{file} is not a fast decoder (its metadata says decoder_kind={kind!r}); {fix}")
    return session
