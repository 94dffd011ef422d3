"""A torch-free VAE: the two exported ONNX graphs behind a small numpy API.

    from vaekit.runtime import VAE
    vae = VAE.load("checkpoints/mnist-z2")            # or the export folder itself
    mean, logvar = vae.encode(images)                 # uint8 or float [N, C, H, W] / [C, H, W] / [H, W]
    images = vae.decode(z)                            # z [N, D] or [D] -> float32 in [0, 1]
    images = vae.sample(16, seed=0, temperature=0.8)
    images = vae.sample(10, seed=0, labels=np.arange(10))  # a conditional model: one class each
    images = vae.sample(16, seed=0, prior="normal")   # N(0, I) instead of the exported prior

Only numpy and onnxruntime (or onnxruntime-gpu) are imported. Both sessions are created
once, in :meth:`VAE.load`, and reused. The pieces live next door: providers
(:mod:`.providers`), sessions (:mod:`.session`), how a graph is fed (:mod:`.binding`),
input checks (:mod:`.inputs`), latent paths (:mod:`.latent`).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import onnxruntime as ort

from .binding import GraphRunner, check_output
from .contract import (
    CONTRACT_KEYS,
    EXAMPLES_FILE,
    GRAPH_NAMES,
    LABEL_INPUT,
    PRECISIONS,
    Contract,
    PriorRecord,
    find_export_dir,
    load_contract,
    stale_export_problem,
)
from .fast import check_decoder_kind, fast_record, open_fast_decoder
from .inputs import (
    MAX_BATCH_LIMIT,
    MAX_THREADS,
    check_batch,
    check_decoded,
    check_device_input,
    check_int,
    check_seed,
    check_temperature,
    coerce_images,
    coerce_labels,
    coerce_latents,
    require_finite,
)
from .latent import METHODS, interpolate_latents
from .prior import Priors
from .providers import (
    CPU,
    CUDA,
    GPU_PROVIDERS,
    PARITY_TOLERANCE,
    CudaOptions,
    ProviderSpec,
    cuda_device_problem,
    preload_cuda_libraries,
    provider_name,
    resolve_providers,
    warn_once,
    with_cuda_options,
)
from .session import open_graph
from .sidefiles import Array, damaged, read_npz

log = logging.getLogger("vaekit.runtime")


@dataclass(frozen=True)
class Examples:
    """Real test images shipped with an export: ``images`` uint8 [N, C, H, W], ``labels`` [N]."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]


EXAMPLE_ARRAYS = {"images": Array("u", 4), "labels": Array("iu", 1), "classes": Array("U", 1, optional=True)}


def read_examples(path: Path, image_shape: tuple[int, ...]) -> Examples:
    """``examples.npz`` read through the checked side-file reader and held to the model's
    image shape; any damage is a ``SideFileError`` naming the file and the fix."""
    fix = ("re-export with `python -m vaekit.export CHECKPOINT --data-root DIR`, or delete the "
           "file to go without examples")
    arrays = read_npz(path, EXAMPLE_ARRAYS, fix=fix)
    images, labels = arrays["images"], arrays["labels"]
    if images.dtype != np.uint8 or tuple(images.shape[1:]) != tuple(image_shape):
        raise damaged(path, f"it holds images {images.dtype} {tuple(images.shape)}, but the model "
                            f"takes uint8 [N, {', '.join(map(str, image_shape))}]", fix)
    if labels.shape != (len(images),):
        raise damaged(path, f"{len(labels)} labels for {len(images)} images", fix)
    classes = tuple(str(c) for c in arrays.get("classes", ()))
    return Examples(images, labels.astype(np.int64), classes)


def _runner_fact(name: str, doc: str) -> property:
    """A read-only property of :class:`VAE` answered by its decoder's :class:`GraphRunner`."""
    return property(lambda self: getattr(self._decoder, name), doc=doc)


class VAE:
    """Encoder and decoder ONNX sessions behind a numpy API. Build it with :meth:`VAE.load`."""

    def __init__(
        self, *, folder: Path, contract: Contract, encoder: GraphRunner, decoder: GraphRunner,
        max_batch: int, precision: str, cuda: CudaOptions | None = None, priors: Priors | None = None,
    ):
        self.folder = folder
        self.contract = contract  # the typed vaekit.json every fact below is read from
        self.metadata = contract.to_dict()  # the same, as the plain JSON dict
        self._priors = priors or Priors(contract.latent_dim)
        self.precision = precision
        self.max_batch = max_batch
        self.cuda = cuda
        self._encoder = encoder
        self._decoder = decoder
        self.decoder_kind = "full"

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
        cuda: CudaOptions | None = None,
        io_binding: bool | None = None,
        decoder: str = "full",
    ) -> VAE:
        """Open an export folder (or a checkpoint folder with an ``onnx/`` subfolder).

        ``providers``: ``"auto"`` (CUDA when a GPU is usable, else CPU with a one-time
        warning saying why), ``"cpu"``, ``"cuda"``, ``"tensorrt"`` or a list of onnxruntime
        provider names. ``threads``: intra-op threads (None: onnxruntime's default).
        ``max_batch``: the largest batch a call accepts. ``precision``: ``fp32``, or
        ``fp16``/``int8`` when the folder was exported with ``--fp16``/``--int8``.
        ``cuda``: :class:`CudaOptions` (device, cuDNN algorithm search, TF32, CUDA graphs)
        for a CUDA session. ``io_binding``: feed the graphs through onnxruntime's I/O
        binding (None: on for CUDA, off for CPU, where plain ``run`` is fastest).
        ``decoder``: ``"full"`` (the model's own ``decoder.onnx``) or ``"fast"`` (the
        distilled ``decoder.fast.onnx``, where the export has one; see docs/fast-decoder.md).
        """
        check_decoder_kind(decoder)
        if threads is not None:
            check_int("threads", threads, 1, MAX_THREADS, " or None (onnxruntime's default)")
        check_int("max_batch", max_batch, 1, MAX_BATCH_LIMIT)
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")
        if cuda is not None and not isinstance(cuda, CudaOptions):
            raise ValueError(f"cuda must be a vaekit.runtime.CudaOptions or None, got {type(cuda).__name__}")
        if io_binding is not None and not isinstance(io_binding, bool):
            raise ValueError(f"io_binding must be True, False or None (automatic), got {io_binding!r}")
        folder = find_export_dir(path)
        contract = load_contract(folder)
        stale = stale_export_problem(folder, contract)
        if stale:
            warnings.warn(stale, UserWarning, stacklevel=2)
        if decoder == "fast":
            fast_record(folder, contract, precision)  # refused before any session opens
        priors = Priors.load(folder, contract)
        chosen, skipped = resolve_providers(providers)
        names = [provider_name(p) for p in chosen]
        if cuda is not None and skipped is None and CUDA not in names:
            raise ValueError(f"cuda=CudaOptions(...) was given but providers={providers!r} has no CUDA: "
                             f"pass providers='cuda' (or 'auto'), or drop cuda=")
        options = cuda or CudaOptions()
        chosen = with_cuda_options(chosen, options)
        if names[0] != CPU:
            preload_cuda_libraries()
        sessions = _open_sessions(folder, contract, precision, chosen, threads, options)
        if decoder == "fast":
            sessions["decoder"] = open_fast_decoder(folder, contract, precision, providers=chosen,
                                                    threads=threads)

        used = sessions["decoder"].get_providers()
        if skipped:
            warn_once(f"vaekit.runtime: providers='auto' runs on {CPU}: {skipped}")
        elif names[0] not in used:
            warn_once(
                f"vaekit.runtime: asked for {names} but onnxruntime runs on {used} (its CUDA/TensorRT "
                f"libraries failed to load: install CUDA and cuDNN versions that match "
                f"onnxruntime-gpu, or pass providers='cpu'; details: {cuda_device_problem() or 'see above'})"
            )
        else:
            log.info("vaekit.runtime: running on %s", used)
        on_gpu = used[0] in GPU_PROVIDERS
        graph_on = on_gpu and used[0] == CUDA and _cuda_graph_enabled(sessions["decoder"])
        runners = {
            graph: GraphRunner(
                session, device="cuda" if on_gpu else "cpu", device_id=_device_id(session) if on_gpu else 0,
                io_binding=on_gpu if io_binding is None else io_binding, cuda_graph=graph_on,
            )
            for graph, session in sessions.items()
        }
        vae = cls(folder=folder, contract=contract, encoder=runners["encoder"], decoder=runners["decoder"],
                  max_batch=max_batch, precision=precision, cuda=options if on_gpu else None,
                  priors=priors)
        vae.decoder_kind = decoder  # "full" or "fast": which decoder decode/sample run
        return vae

    # -- facts

    @property
    def latent_dim(self) -> int:
        return self.contract.latent_dim

    @property
    def class_names(self) -> tuple[str, ...]:
        """The classes a conditional model takes as ``labels`` (empty: unconditional)."""
        return self.contract.class_names

    @property
    def conditional(self) -> bool:
        """Whether encode/decode/sample need ``labels`` (class indices into :attr:`class_names`)."""
        return self.contract.conditional

    @property
    def priors(self) -> tuple[str, ...]:
        """The priors :meth:`sample` draws from: ``"normal"`` (N(0, I)) and the exported one, if any."""
        return self._priors.names

    @property
    def default_prior(self) -> str:
        """The prior :meth:`sample` uses unless told: the exported one, else ``"normal"``."""
        return self._priors.default

    @property
    def prior_record(self) -> PriorRecord:
        """``vaekit.json["prior"]``: the exported prior's name, size, and what it was fitted on."""
        return self._priors.record

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)``."""
        return self.contract.image_shape

    # how the sessions run, as the decoder's runner reports it (the encoder's runs the same way)
    providers = _runner_fact("providers", "The execution providers onnxruntime actually uses "
                             "(from the sessions): list[str].")
    device = _runner_fact("device", 'Where ``output="ortvalue"`` results live: ``"cpu"`` or ``"cuda"``.')
    io_binding = _runner_fact("io_binding", "Whether runs bind their inputs and outputs (bool).")
    cuda_graph = _runner_fact("cuda_graph", "Whether decode/encode replay captured CUDA graphs "
                              "(CudaOptions(cuda_graph=True) on CUDA): bool.")

    @property
    def sessions(self) -> Mapping[str, ort.InferenceSession]:
        """The onnxruntime sessions behind :meth:`encode` and :meth:`decode` (``"encoder"``,
        ``"decoder"``; read-only): for profiling, or calls of your own that need none of the
        checks, e.g. ``vae.sessions["decoder"].run(None, {"z": z})``."""
        return MappingProxyType({"encoder": self._encoder.session, "decoder": self._decoder.session})

    @property
    def parity_tolerance(self) -> float:
        """Max |pixel difference| from the CPU provider documented for how this VAE runs (fp32)."""
        return self.cuda.parity_tolerance if self.cuda is not None else PARITY_TOLERANCE["cpu"]

    def __repr__(self) -> str:
        return (f"VAE({str(self.folder)!r}, image_shape={self.image_shape}, latent_dim="
                f"{self.latent_dim}, dataset={self.contract.dataset!r}, precision={self.precision!r}, "
                f"decoder={self.decoder_kind!r}, "
                f"providers={self.providers})")

    # -- inference

    def encode(self, images: Any, *, labels: Any = None, output: str = "numpy") -> tuple[Any, Any]:
        """``images`` [N, C, H, W] (or one image [C, H, W] / [H, W]) -> ``(mean, logvar)``.

        uint8 images are scaled by 1/255; float images must lie in [0, 1]. Returns float32
        ``[N, D]`` each, or ``[D]`` for a single image. ``images`` may also be an
        ``onnxruntime.OrtValue`` float32 [N, C, H, W] already on the device (not checked
        for range). ``output="ortvalue"``: return OrtValues on :attr:`device` (batch axis
        kept) instead of numpy arrays. ``labels``: a conditional model's classes, one int per
        image or one for all (see :attr:`class_names`); None for other models.
        """
        check_output(output)
        if isinstance(images, ort.OrtValue):
            check_device_input(images, "image", self.image_shape, self.max_batch)
            x, single = images, False
        else:
            x, single = coerce_images(images, self.image_shape, self.max_batch)
        mean, logvar = self._encoder.run(self._feed("image", x, labels), output=output)
        if output == "ortvalue":
            return mean, logvar
        require_finite(mean, "the encoder's means", "NaN or inf", "load precision='fp32' and check the input")
        return (mean[0], logvar[0]) if single else (mean, logvar)

    def decode(self, z: Any, *, labels: Any = None, output: str = "numpy") -> Any:
        """``z`` [N, D] (or one latent [D]) -> images float32 [N, C, H, W] (or [C, H, W]) in [0, 1].

        Every ``|z|`` must be at most :data:`vaekit.runtime.inputs.MAX_ABS_LATENT`; a decode
        that still comes back non-finite raises ``ValueError``. ``z`` may also be an
        ``onnxruntime.OrtValue`` float32 [N, D] on the device (e.g. ``encode(...,
        output="ortvalue")[0]``; its values are not checked). ``output="ortvalue"``: return an
        OrtValue on :attr:`device` (batch axis kept); with CUDA graphs it is a fixed buffer that
        the next call of the same batch size overwrites. ``labels``: a conditional model's
        classes, one int per latent or one for all.
        """
        check_output(output)
        if isinstance(z, ort.OrtValue):
            check_device_input(z, "z", (self.latent_dim,), self.max_batch)
            single, host = False, None
        else:
            z, single = coerce_latents(z, self.latent_dim, self.max_batch)
            host = z
        images = self._decoder.run(self._feed("z", z, labels), output=output)[0]
        if output == "ortvalue":
            return images
        check_decoded(images, host)
        return images[0] if single else images

    def reconstruct(self, images: Any, *, labels: Any = None) -> np.ndarray:
        """Decode the posterior mean of each image: same shape as the input, float32 in [0, 1].

        With I/O binding the means stay on the device between the two graphs.
        """
        x, single = coerce_images(images, self.image_shape, self.max_batch)
        chain = "ortvalue" if self.io_binding and not self.cuda_graph else "numpy"
        y = coerce_labels(labels, len(x), self.class_names)
        mean = self._encoder.run(_with_label({"image": x}, y), output=chain)[0]
        out = check_decoded(self._decoder.run(_with_label({"z": mean}, y), output="numpy")[0])
        if single:
            return out[0].reshape(np.shape(images))
        return out

    def sample(self, n: int, *, seed: int | None = None, temperature: float = 1.0,
               labels: Any = None, prior: str | None = None, output: str = "numpy") -> Any:
        """``n`` images decoded from z drawn from a prior: float32 [n, C, H, W] in [0, 1].

        ``prior``: a name from :attr:`priors`: ``"normal"`` (N(0, I)) or the prior the export
        ships (``prior.onnx``: a Gaussian or mixture fitted to the training posteriors, or a
        VampPrior's learned mixture); None: :attr:`default_prior`. z comes from the noise
        ``eps`` [n, D] ~ N(0, I) times ``temperature`` and ``u`` [n] ~ U[0, 1) (the mixture
        component), drawn in that order from ``numpy.random.default_rng(seed)``, so every prior
        gets the same eps for a seed. ``seed``: an int in [0, 2**63 - 1] for repeatable samples
        (None: fresh ones). ``temperature``: in [0, 100]; scales the noise: 1.0 samples the
        prior, 0 decodes its mean (a mixture: the component means). ``labels``: a conditional
        model's classes, one int per image or one for all.
        """
        check_output(output)
        n = check_int("n", n, 1, MAX_BATCH_LIMIT, " (how many images)")
        check_batch(n, self.max_batch)
        seed, temperature = check_seed(seed), check_temperature(temperature)
        prior = self._priors.check_name(prior)
        y = coerce_labels(labels, n, self.class_names)
        z = self._priors.draw(np.random.default_rng(seed), n, temperature, prior)
        images = self._decoder.run(_with_label({"z": z}, y), output=output)[0]
        return images if output == "ortvalue" else check_decoded(images, z)

    def prior_latents(self, eps: Any, u: Any, *, prior: str | None = None) -> np.ndarray:
        """z float32 [N, D] for given noise: ``eps`` [N, D] (N(0, I) draws, times a temperature)
        and ``u`` [N] in [0, 1), through ``prior`` (a name from :attr:`priors`; None: the
        default). What :meth:`sample` decodes, for noise drawn elsewhere (a browser, Node)."""
        return self._priors.latents(np.asarray(eps), np.asarray(u), prior)

    def interpolate(self, a: Any, b: Any, steps: int = 8, *, method: str = "linear",
                    label: int | None = None) -> np.ndarray:
        """Images along a path from ``a`` to ``b``: float32 [steps, C, H, W] in [0, 1].

        ``a`` and ``b`` are latents [D] or single images (encoded to their posterior mean).
        ``method``: ``linear`` or ``slerp`` (spherical, keeps the norm typical of the prior).
        ``steps``: an int >= 2 and <= ``max_batch`` (both endpoints included). ``label``: a
        conditional model's class, used to encode the endpoints and decode the whole path.
        """
        if method not in METHODS:
            raise ValueError(f"unknown interpolation method {method!r}; choose one of {METHODS}")
        steps = check_int("steps", steps, 2, MAX_BATCH_LIMIT, " (both endpoints included)")
        check_batch(steps, self.max_batch)
        coerce_labels(label, 1, self.class_names)  # checked before any graph runs
        za, zb = self._endpoint(a, "a", label), self._endpoint(b, "b", label)
        return self.decode(interpolate_latents(za, zb, steps, method=method), labels=label)

    def examples(self) -> Examples:
        """The test images saved next to the graphs (``examples.npz``)."""
        path = self.folder / EXAMPLES_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: the export ran without the dataset; re-export with the "
                f"data present (`python -m vaekit.export CHECKPOINT --data-root DIR`)"
            )
        return read_examples(path, self.image_shape)

    def _feed(self, name: str, value: Any, labels: Any) -> dict[str, Any]:
        """``{name: value}`` plus the checked ``label`` input of a conditional model."""
        if labels is None and not self.metadata.get("class_names"):  # the common case, on every call
            return {name: value}
        n = value.shape()[0] if isinstance(value, ort.OrtValue) else len(value)
        return _with_label({name: value}, coerce_labels(labels, n, self.class_names))

    def _endpoint(self, v: Any, name: str, label: int | None) -> np.ndarray:
        v = np.asarray(v)
        if v.ndim == 1:
            return coerce_latents(v, self.latent_dim, self.max_batch)[0][0]
        if v.ndim in (2, 3):
            return self.encode(v, labels=label)[0]
        raise ValueError(
            f"interpolate: {name} must be a latent ({self.latent_dim},) or one image "
            f"{self.image_shape}, got shape {tuple(v.shape)}"
        )


def _with_label(feed: dict[str, Any], labels: np.ndarray | None) -> dict[str, Any]:
    return feed if labels is None else {**feed, LABEL_INPUT: labels}


def _open_sessions(
    folder: Path, contract: Contract, precision: str, chosen: list[ProviderSpec],
    threads: int | None, cuda: CudaOptions,
) -> dict[str, ort.InferenceSession]:
    """Both graphs' sessions; a CUDA graph that onnxruntime refuses falls back to none, with a warning."""
    try:
        return {g: open_graph(folder, contract, g, precision, providers=chosen, threads=threads)
                for g in GRAPH_NAMES}
    except ValueError as e:
        if not (cuda.cuda_graph and CUDA in [provider_name(p) for p in chosen]):
            raise
        plain = with_cuda_options([provider_name(p) for p in chosen], CudaOptions(
            device_id=cuda.device_id, conv_algo_search=cuda.conv_algo_search, tf32=cuda.tf32))
        sessions = {g: open_graph(folder, contract, g, precision, providers=plain, threads=threads)
                    for g in GRAPH_NAMES}
        warn_once(f"vaekit.runtime: onnxruntime cannot capture these graphs as CUDA graphs ({e}); "
                  f"running them without (CudaOptions(cuda_graph=False) silences this)")
        return sessions


def _device_id(session: ort.InferenceSession) -> int:
    """The GPU a CUDA/TensorRT session runs on (a provider list given by hand may pick one)."""
    for options in session.get_provider_options().values():
        if "device_id" in options:
            return int(options["device_id"])
    return 0


def _cuda_graph_enabled(session: ort.InferenceSession) -> bool:
    return session.get_provider_options().get(CUDA, {}).get("enable_cuda_graph") == "1"


__all__ = [
    "CONTRACT_KEYS",
    "VAE",
    "CudaOptions",
    "Examples",
    "cuda_device_problem",
    "interpolate_latents",
    "resolve_providers",
]
