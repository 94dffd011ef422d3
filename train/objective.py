"""The ELBO of Kingma & Welling (2014) and the importance-sampled bound (Burda et al. 2016).

Everything here is a pure function of its inputs: no hidden counters. Per-image terms are
in nats; :func:`per_dim` converts to per-dimension units (divide by C*H*W).

Likelihoods map the decoder's raw output (``params``) to a log-likelihood and to the mean
image in [0, 1], which is what the exported decoder returns.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

LIKELIHOODS: dict[str, type[Likelihood]] = {}


def register_likelihood(name: str):
    def wrap(cls: type[Likelihood]) -> type[Likelihood]:
        cls.name = name
        LIKELIHOODS[name] = cls
        return cls

    return wrap


def get_likelihood(name: str) -> Likelihood:
    if name not in LIKELIHOODS:
        raise ValueError(f"unknown likelihood {name!r}; choose one of {sorted(LIKELIHOODS)}")
    return LIKELIHOODS[name]()


class Likelihood:
    """p(x | z) given the decoder's output ``params`` [N, P, H, W], ``P = param_channels(C)``."""

    name: str = ""
    params_per_channel: int = 1
    #: whether targets are binarised (Bernoulli) rather than 8-bit intensities
    binary: bool = False

    def param_channels(self, in_channels: int) -> int:
        """How many channels of ``params`` the decoder produces for ``in_channels``-channel images."""
        return self.params_per_channel * in_channels

    @classmethod
    def check_channels(cls, in_channels: int) -> None:
        """Refuse (ValueError naming the fix) an image channel count this likelihood cannot model."""

    def nll(self, params: Tensor, x: Tensor) -> Tensor:
        """Negative log-likelihood in nats per image, ``[N]``. ``x`` is in [0, 1]."""
        raise NotImplementedError

    def mean(self, params: Tensor) -> Tensor:
        """The likelihood's mean image in [0, 1], ``[N, C, H, W]``."""
        raise NotImplementedError

    def init_output_bias(self, bias: Tensor) -> None:
        """Initialise the decoder's last bias ``[P]`` in place (default: leave it)."""


@register_likelihood("bernoulli")
class Bernoulli(Likelihood):
    """Independent Bernoulli pixels on binarised images; ``params`` are logits."""

    binary = True

    def nll(self, params: Tensor, x: Tensor) -> Tensor:
        bce = F.binary_cross_entropy_with_logits(params.float(), x.float(), reduction="none")
        return bce.flatten(1).sum(1)

    def mean(self, params: Tensor) -> Tensor:
        return torch.sigmoid(params)


def _discretized_logistic_log_prob(x: Tensor, loc: Tensor, log_scale: Tensor, bins: int) -> Tensor:
    """log P(x) per element under a logistic(loc, exp(log_scale)) discretised to ``bins`` levels.

    ``x`` is in [-1, 1] on the grid of ``bins`` levels (bins are ``2 / (bins - 1)`` wide); the
    first and last bin take the whole tail, so the probabilities of the levels sum to 1.
    """
    half_bin = 1.0 / (bins - 1)
    centered = x - loc
    inv_s = torch.exp(-log_scale)
    plus_in = inv_s * (centered + half_bin)
    min_in = inv_s * (centered - half_bin)
    log_cdf_plus = plus_in - F.softplus(plus_in)  # log sigmoid(plus_in), for x == 0
    log_one_minus_cdf_min = -F.softplus(min_in)  # for x == 255
    cdf_delta = torch.sigmoid(plus_in) - torch.sigmoid(min_in)
    mid_in = inv_s * centered
    log_pdf_mid = mid_in - log_scale - 2 * F.softplus(mid_in)  # far tails: density * bin
    log_prob_mid = torch.where(
        cdf_delta > 1e-5,
        torch.log(cdf_delta.clamp(min=1e-12)),
        log_pdf_mid - math.log((bins - 1) / 2),
    )
    return torch.where(
        x < -0.999, log_cdf_plus, torch.where(x > 0.999, log_one_minus_cdf_min, log_prob_mid)
    )


@register_likelihood("logistic")
class DiscretizedLogistic(Likelihood):
    """A logistic per sub-pixel, discretised to 256 bins (PixelCNN++ without the mixture).

    ``params`` holds ``loc`` (in [-1, 1] pixel space) and ``log_scale`` as two channel
    halves. Because the 256 bins are integrated exactly, bits/dim is a true number.
    """

    params_per_channel = 2
    bins = 256
    min_log_scale = -7.0
    #: initial log scale: a logistic about 17 intensity levels wide rather than the whole range,
    #: so training does not spend its first epochs shrinking the scale bias by lr per step
    init_log_scale = -2.0

    def split(self, params: Tensor) -> tuple[Tensor, Tensor]:
        loc, log_scale = params.float().chunk(2, dim=1)
        return loc, log_scale.clamp(min=self.min_log_scale)

    def nll(self, params: Tensor, x: Tensor) -> Tensor:
        loc, log_scale = self.split(params)
        x = x.float() * 2 - 1  # [0, 1] -> [-1, 1], bins are 2/255 wide
        log_prob = _discretized_logistic_log_prob(x, loc, log_scale, self.bins)
        return -log_prob.flatten(1).sum(1)

    def init_output_bias(self, bias: Tensor) -> None:
        with torch.no_grad():
            bias[len(bias) // 2 :] = self.init_log_scale

    def mean(self, params: Tensor) -> Tensor:
        loc, _ = params.chunk(2, dim=1)
        return ((loc + 1) / 2).clamp(0, 1)


def gaussian_kl(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) in nats per image, ``[N]`` (analytic)."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(1)


def reparameterize(mean: Tensor, logvar: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
    """z = mean + sigma * eps, eps ~ N(0, I): differentiable in mean and logvar."""
    eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    return mean + torch.exp(0.5 * logvar) * eps


def gaussian_log_prob(z: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
    """log N(z; mean, exp(logvar)) summed over the last dimension."""
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mean).pow(2) / logvar.exp()).sum(-1)


def standard_normal_log_prob(z: Tensor) -> Tensor:
    return -0.5 * (math.log(2 * math.pi) + z.pow(2)).sum(-1)


def kl_warmup(step: int, warmup_steps: int) -> float:
    """Linear KL warm-up: 0 at step 0, 1 from ``warmup_steps`` on (1 throughout if 0)."""
    if warmup_steps <= 0:
        return 1.0
    return min(1.0, step / warmup_steps)


def log_mean_exp(x: Tensor, dim: int) -> Tensor:
    return torch.logsumexp(x, dim=dim) - math.log(x.shape[dim])


def nats_to_bits_per_dim(nats_per_image: float, dims: int) -> float:
    return nats_per_image / (dims * math.log(2))
