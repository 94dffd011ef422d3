"""Ex-post samplers: densities fitted to a trained model's aggregate posterior (numpy only).

A VAE trained against N(0, I) rarely fills it: its posterior means sit in a smaller,
correlated region, and N(0, I) draws land where the decoder has never been. A sampler fits a
density to the encoder means of the training images instead (pythae's ``BaseSampler.fit``;
RAE's ex-post mixtures), kept apart from the model::

    sampler = SAMPLERS["gmm"](GMMOptions(components=10))
    state, info = sampler.fit(latents, np.random.default_rng(0))   # latents [n, D]
    z = state.transform(eps, u)                                    # eps [N, D], u [N] -> z [N, D]

Every sampler's result is one :class:`MixtureState` (weights, means and scales of K
Gaussians), so one graph (``prior.onnx``, written by the export) samples from any of them,
and a VampPrior's learned mixture is the same state with diagonal scales. Samplers register
once in :data:`SAMPLERS`; the CLI's choices and flags derive from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

#: name -> sampler class; ``python -m vaekit.train.fit_prior --sampler`` offers these
SAMPLERS: dict[str, type[Sampler]] = {}
MAX_COMPONENTS = 256
LOG_2PI = math.log(2 * math.pi)


def register(cls: type[Sampler]) -> type[Sampler]:
    if cls.name in SAMPLERS:
        raise ValueError(f"sampler {cls.name!r} is registered twice")
    SAMPLERS[cls.name] = cls
    return cls


# ----------------------------------------------------------------------------- the fitted state


@dataclass(frozen=True)
class MixtureState:
    """K Gaussians: ``weights`` float32 [K] (summing to 1), ``means`` float32 [K, D] and
    ``scales``: float32 [K, D, D] lower-triangular (``covariance == "full"``: Sigma_k =
    L_k L_k^T) or [K, D] standard deviations (``"diag"``)."""

    weights: np.ndarray
    means: np.ndarray
    scales: np.ndarray

    @property
    def components(self) -> int:
        return int(self.means.shape[0])

    @property
    def latent_dim(self) -> int:
        return int(self.means.shape[1])

    @property
    def covariance(self) -> str:
        return "diag" if self.scales.ndim == 2 else "full"

    def cdf(self) -> np.ndarray:
        """The cumulative weights float32 [K - 1] a uniform ``u`` is compared with (the last,
        1, is left out: ``u`` below it picks the last component)."""
        return np.cumsum(self.weights.astype(np.float32), dtype=np.float32)[:-1]

    def check(self, latent_dim: int | None = None, *, fix: str) -> MixtureState:
        """Refuse a state a sampler could not have written: shapes, NaN/inf, weights; returns it."""
        w, m, s = self.weights, self.means, self.scales
        k = m.shape[0] if m.ndim == 2 else -1
        if m.ndim != 2 or k < 1 or w.shape != (k,) or s.shape not in ((k, m.shape[1]), (k, m.shape[1], m.shape[1])):
            raise ValueError(f"the prior's state has weights {w.shape}, means {m.shape}, scales {s.shape}: "
                             f"expected [K], [K, D] and [K, D] or [K, D, D]; {fix}")
        if latent_dim is not None and m.shape[1] != latent_dim:
            raise ValueError(f"the prior draws latents of size {m.shape[1]}, the model's are {latent_dim}: "
                             f"it was fitted to another model; {fix}")
        if not all(np.isfinite(a).all() for a in (w, m, s)):
            raise ValueError(f"the prior's state holds NaN or inf values; {fix}")
        if (w < 0).any() or abs(float(w.sum()) - 1) > 1e-4:
            raise ValueError(f"the prior's weights must be >= 0 and sum to 1 (sum {float(w.sum()):.6g}); {fix}")
        return self

    def transform(self, eps: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``eps`` float32 [N, D], ``u`` float32 [N] in [0, 1) -> z float32 [N, D], as the graph does."""
        eps = np.asarray(eps, np.float32)
        k = np.searchsorted(self.cdf(), np.asarray(u, np.float32), side="right")
        if self.covariance == "diag":
            return (self.means[k] + self.scales[k] * eps).astype(np.float32)
        return (self.means[k] + np.einsum("nij,nj->ni", self.scales[k], eps)).astype(np.float32)

    def log_density(self, z: np.ndarray) -> np.ndarray:
        """``log p(z)`` float64 [N] of latents ``z`` [N, D] (nats)."""
        z = np.asarray(z, np.float64)
        log_k = np.stack([_log_gaussian(z, self.means[j], self.scales[j]) for j in range(self.components)], 1)
        with np.errstate(divide="ignore"):
            log_k += np.log(self.weights.astype(np.float64))
        return _logsumexp(log_k)

    def tensors(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights, "means": self.means,
                ("scale_diag" if self.covariance == "diag" else "scale_tril"): self.scales}

    @classmethod
    def from_tensors(cls, t: dict[str, np.ndarray], *, fix: str) -> MixtureState:
        scales = t.get("scale_tril", t.get("scale_diag"))
        if scales is None or "weights" not in t or "means" not in t:
            raise ValueError(f"the prior's state lacks weights, means or scale_tril/scale_diag "
                             f"(has {sorted(t)}); {fix}")
        return cls(*(np.ascontiguousarray(a, dtype=np.float32) for a in (t["weights"], t["means"], scales)))

    @classmethod
    def of_diagonal(cls, means: np.ndarray, logvars: np.ndarray) -> MixtureState:
        """An equally weighted mixture of diagonal Gaussians (a VampPrior's pseudo-input posteriors)."""
        k = len(means)
        return cls(np.full(k, 1 / k, np.float32), np.asarray(means, np.float32),
                   np.exp(0.5 * np.asarray(logvars, np.float64)).astype(np.float32))


def _log_gaussian(z: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``log N(z; mean, L L^T)`` [N] for a lower-triangular ``scale`` L [D, D] (or stds [D])."""
    d = z.shape[1]
    scale = np.asarray(scale, np.float64)
    if scale.ndim == 1:
        y = (z - mean) / scale
        log_det = np.log(scale).sum()
    else:
        y = np.linalg.solve(scale, (z - mean).T).T
        log_det = np.log(np.diag(scale)).sum()
    return -0.5 * (y * y).sum(1) - log_det - 0.5 * d * LOG_2PI


def _logsumexp(a: np.ndarray) -> np.ndarray:
    top = a.max(1, keepdims=True)
    return (top + np.log(np.exp(a - top).sum(1, keepdims=True)))[:, 0]


# ----------------------------------------------------------------------------- samplers


def _option(default: Any, help: str, lo: float, hi: float) -> Any:
    """A sampler option: its default, ``--help`` text and inclusive range (checked up front)."""
    return field(default=default, metadata={"help": help, "range": (lo, hi)})


@dataclass(frozen=True)
class SamplerOptions:
    """Each field is a flag of ``fit_prior`` (``reg_covar`` -> ``--reg-covar``), range-checked."""

    reg_covar: float = _option(1e-6, "added to each covariance's diagonal (keeps it invertible)", 0.0, 1.0)

    def __post_init__(self) -> None:
        for f in fields(self):
            lo, hi = f.metadata["range"]
            v = getattr(self, f.name)
            whole = isinstance(f.default, int)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or (whole and not isinstance(v, int)) \
                    or not math.isfinite(v) or not lo <= v <= hi:
                flag = "--" + f.name.replace("_", "-")
                raise ValueError(f"{flag} must be {'a whole number ' if whole else ''}in [{lo:g}, {hi:g}], got {v!r}")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class Sampler:
    """Fit a :class:`MixtureState` to latents. Subclasses set ``name``, ``options_class``, ``doc``."""

    name: ClassVar[str]
    doc: ClassVar[str]
    options_class: ClassVar[type[SamplerOptions]] = SamplerOptions

    def __init__(self, options: SamplerOptions | None = None):
        self.options = options or self.options_class()
        if not isinstance(self.options, self.options_class):
            raise ValueError(f"{self.name} takes {self.options_class.__name__}, got {type(self.options).__name__}")

    def fit(self, latents: np.ndarray, rng: np.random.Generator) -> tuple[MixtureState, dict[str, Any]]:
        """``latents`` [n, D] -> the fitted state and facts about the fit (iterations, ...)."""
        raise NotImplementedError


def _covariance(x: np.ndarray, weights: np.ndarray, mean: np.ndarray, reg: float) -> np.ndarray:
    """Weighted covariance [D, D] of ``x`` [n, D] about ``mean`` plus ``reg`` I (float64)."""
    c = x - mean
    cov = (weights[:, None] * c).T @ c / weights.sum()
    cov = 0.5 * (cov + cov.T)
    cov[np.diag_indices_from(cov)] += reg
    return cov


def _cholesky(cov: np.ndarray, reg: float) -> np.ndarray:
    """Lower-triangular L with L L^T = cov, adding jitter until it is positive definite."""
    jitter = max(reg, 1e-10)
    for _ in range(8):
        try:
            return np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            cov = cov + jitter * np.eye(len(cov))
            jitter *= 10
    raise ValueError("a covariance is not positive definite even with jitter: raise --reg-covar")


@register
class GaussianSampler(Sampler):
    name = "gaussian"
    doc = "one full-covariance Gaussian (the latents' mean and covariance)"

    def fit(self, latents: np.ndarray, rng: np.random.Generator) -> tuple[MixtureState, dict[str, Any]]:
        x = np.asarray(latents, np.float64)
        mean = x.mean(0)
        scale = _cholesky(_covariance(x, np.ones(len(x)), mean, self.options.reg_covar), self.options.reg_covar)
        state = MixtureState(np.ones(1, np.float32), mean[None].astype(np.float32), scale[None].astype(np.float32))
        return state, {}


@dataclass(frozen=True)
class GMMOptions(SamplerOptions):
    components: int = _option(10, "mixture components K", 1, MAX_COMPONENTS)
    iterations: int = _option(200, "most EM iterations", 1, 10_000)
    tol: float = _option(1e-4, "stop when the mean log-likelihood gains less than this (nats)", 0.0, 1.0)


@register
class GMMSampler(Sampler):
    name = "gmm"
    doc = "a mixture of full-covariance Gaussians fitted by EM from a k-means++ start"
    options_class = GMMOptions

    def fit(self, latents: np.ndarray, rng: np.random.Generator) -> tuple[MixtureState, dict[str, Any]]:
        o = self.options
        x = np.asarray(latents, np.float64)
        k = o.components
        if len(x) < 2 * k:
            raise ValueError(f"{len(x)} latents are too few for {k} components: use fewer "
                             f"--components or more images (--count)")
        resp = _kmeans_responsibilities(x, k, rng)
        previous, converged, it = -np.inf, False, 0
        for it in range(1, o.iterations + 1):
            weights, means, scales = _m_step(x, resp, o.reg_covar)
            log_k = np.stack([_log_gaussian(x, means[j], scales[j]) for j in range(k)], 1) + np.log(weights)
            log_p = _logsumexp(log_k)
            resp = np.exp(log_k - log_p[:, None])
            mean_ll = float(log_p.mean())
            if mean_ll - previous < o.tol:
                converged = True
                break
            previous = mean_ll
        weights, means, scales = _m_step(x, resp, o.reg_covar)
        weights = weights / weights.sum()
        state = MixtureState(weights.astype(np.float32), means.astype(np.float32), scales.astype(np.float32))
        return state, {"iterations": it, "converged": converged}


def _m_step(x: np.ndarray, resp: np.ndarray, reg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights [K], means [K, D] and Cholesky factors [K, D, D] from responsibilities [n, K]."""
    nk = resp.sum(0) + 10 * np.finfo(np.float64).eps
    means = resp.T @ x / nk[:, None]
    scales = np.stack([_cholesky(_covariance(x, resp[:, j], means[j], reg), reg) for j in range(len(nk))])
    return nk / len(x), means, scales


def _kmeans_responsibilities(x: np.ndarray, k: int, rng: np.random.Generator, steps: int = 20) -> np.ndarray:
    """Hard assignments [n, K] (one-hot) of k-means from a seeded k-means++ start."""
    centres = [x[rng.integers(len(x))]]
    d2 = ((x - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        centres.append(x[rng.choice(len(x), p=d2 / d2.sum())] if d2.sum() > 0 else x[rng.integers(len(x))])
        d2 = np.minimum(d2, ((x - centres[-1]) ** 2).sum(1))
    c = np.stack(centres)
    for _ in range(steps):
        label = (-2 * x @ c.T + (c * c).sum(1)).argmin(1)
        for j in range(k):
            if (label == j).any():
                c[j] = x[label == j].mean(0)
    resp = np.zeros((len(x), k))
    resp[np.arange(len(x)), label] = 1.0
    return resp


def sampler_names() -> tuple[str, ...]:
    return tuple(SAMPLERS)


def option_fields() -> dict[str, Any]:
    """Every sampler option (flag name -> its dataclass field), across the registry, in order."""
    out: dict[str, Any] = {}
    for cls in SAMPLERS.values():
        for f in fields(cls.options_class):
            out.setdefault(f.name, f)
    return out


def build_sampler(name: str, given: dict[str, Any]) -> Sampler:
    """The sampler ``name`` with the options ``given`` (flag dest -> value; None: its default).

    An option this sampler does not take is refused (``--components`` for ``gaussian``).
    """
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; choose one of {sampler_names()}")
    cls = SAMPLERS[name]
    own = {f.name for f in fields(cls.options_class)}
    foreign = sorted(k for k, v in given.items() if v is not None and k not in own)
    if foreign:
        flags = ", ".join("--" + k.replace("_", "-") for k in foreign)
        raise ValueError(f"--sampler {name} takes no {flags}: drop it, or pick a sampler that does")
    return cls(cls.options_class(**{k: v for k, v in given.items() if v is not None and k in own}))
