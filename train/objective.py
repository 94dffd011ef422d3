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


@register_likelihood("logistic_ar")
class DiscretizedLogisticAR(DiscretizedLogistic):
    """Discretised logistics whose colour channels depend linearly on the earlier ones.

    Salimans et al. 2017 (PixelCNN++) without the mixture: channel ``c``'s location is
    ``loc_c + sum_{j<c} tanh(a_cj) * x_j`` with ``x_j`` the earlier channels' actual values in
    [-1, 1], so a residual shared by R, G and B is paid for once. ``params`` holds C locs,
    C log scales and the C(C-1)/2 coefficients ``a`` ordered (1,0), (2,0), (2,1), ...; C is
    read from the channel count. Needs C >= 2 (one channel: use "logistic").
    """

    @staticmethod
    def coefficients(in_channels: int) -> int:
        return in_channels * (in_channels - 1) // 2

    def param_channels(self, in_channels: int) -> int:
        return 2 * in_channels + self.coefficients(in_channels)

    @classmethod
    def check_channels(cls, in_channels: int) -> None:
        if in_channels < 2:
            raise ValueError(
                f"likelihood {cls.name!r} couples each colour channel to the earlier ones, so it "
                f"needs in_channels >= 2, got {in_channels}: use --likelihood logistic for "
                f"single-channel images")

    def channels(self, params: Tensor) -> int:
        """C such that ``param_channels(C)`` is ``params``' channel count (a static shape)."""
        p = params.shape[1]
        c = (math.isqrt(9 + 8 * p) - 3) // 2
        if c < 2 or self.param_channels(c) != p:
            raise ValueError(f"{p} parameter channels do not fit {self.name!r}: it takes "
                             f"2C + C(C-1)/2 for C >= 2 image channels (7 for RGB)")
        return c

    def split(self, params: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        c = self.channels(params)
        loc, log_scale, coeffs = params.float().split([c, c, self.coefficients(c)], dim=1)
        return loc, log_scale.clamp(min=self.min_log_scale), coeffs

    @staticmethod
    def shifted_loc(loc: Tensor, coeffs: Tensor, c: int, earlier: list[Tensor]) -> Tensor:
        """Channel ``c``'s location given the earlier channels' values ``earlier`` [N, 1, H, W]."""
        out = loc[:, c : c + 1]
        for j, value in enumerate(earlier):
            k = c * (c - 1) // 2 + j
            out = out + torch.tanh(coeffs[:, k : k + 1]) * value
        return out

    def nll(self, params: Tensor, x: Tensor) -> Tensor:
        loc, log_scale, coeffs = self.split(params)
        c = loc.shape[1]
        if x.shape[1] != c:
            raise ValueError(f"params describe {c} channels but the images have {x.shape[1]}")
        x = x.float() * 2 - 1  # [0, 1] -> [-1, 1], bins are 2/255 wide
        xs = list(x.split(1, dim=1))
        loc = torch.cat([self.shifted_loc(loc, coeffs, i, xs[:i]) for i in range(c)], dim=1)
        log_prob = _discretized_logistic_log_prob(x, loc, log_scale, self.bins)
        return -log_prob.flatten(1).sum(1)

    def init_output_bias(self, bias: Tensor) -> None:
        c = self.channels(bias.view(1, -1))
        with torch.no_grad():
            bias[c : 2 * c] = self.init_log_scale
            bias[2 * c :] = 0.0  # start as independent channels

    def mean(self, params: Tensor) -> Tensor:
        """E[x_c] = loc_c + sum_{j<c} tanh(a_cj) E[x_j], channel by channel, each clamped to
        [-1, 1] (the range x_j takes) before the next channel uses it, then mapped to [0, 1]."""
        c = self.channels(params)
        loc, coeffs = params[:, :c], params[:, 2 * c :]
        means: list[Tensor] = []
        for i in range(c):
            means.append(self.shifted_loc(loc, coeffs, i, means).clamp(-1, 1))
        return (torch.cat(means, dim=1) + 1) / 2


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
