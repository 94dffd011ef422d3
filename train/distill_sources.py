"""Where a student decoder's training latents come from, and what its loss compares.

Three sources of ``z`` (:data:`SOURCES`), mixed in each batch by fixed proportions:

* ``posterior``: the aggregate posterior, ``z ~ q(z | x)`` for training images ``x`` (the
  teacher's encoder means and variances, computed once for the whole training split);
* ``prior``: what the model samples from (a VampPrior's learned mixture, else N(0, I));
* ``normal``: N(0, I), for the regions the runtime's sliders and explorer reach.

The loss is a pixel loss (L1 or MSE) between the student's and the teacher's mean images,
plus, with ``feature_weight > 0``, the same loss on the teacher encoder's stage activations
of both images (a perceptual loss in the model's own feature space).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from tqdm import tqdm

from .data import ImageSplit
from .model import VAE

SOURCES = ("posterior", "prior", "normal")
LOSSES = ("l1", "mse")


@dataclass
class Posteriors:
    """Encoder outputs of a set of images: ``means``, ``logvars`` ``[N, D]``, ``labels`` ``[N]``."""

    means: Tensor
    logvars: Tensor
    labels: Tensor


@torch.no_grad()
def encode_split(teacher: VAE, split: ImageSplit, *, batch_size: int = 256,
                 progress: bool = False) -> Posteriors:
    """The teacher's posterior ``(mean, logvar)`` of every image of ``split``, batch by batch."""
    means, logvars = [], []
    labels = split.labels.clamp(min=0) if teacher.conditional else split.labels
    for start in tqdm(range(0, len(split), batch_size), desc="encode training images",
                      disable=not progress, leave=False, dynamic_ncols=True):
        idx = slice(start, start + batch_size)
        m, lv = teacher.encode(split.float_batch(idx), labels[idx] if teacher.conditional else None)
        means.append(m.float())
        logvars.append(lv.float())
    return Posteriors(torch.cat(means), torch.cat(logvars), labels)


class LatentSources:
    """Draw batches of ``(z [B, D], label [B] or None)`` from the three :data:`SOURCES`."""

    def __init__(self, teacher: VAE, posteriors: Posteriors, mix: tuple[float, float, float]):
        self.posteriors = posteriors
        self.latent_dim = posteriors.means.shape[1]
        self.num_classes = teacher.config.num_classes if teacher.conditional else 0
        with torch.no_grad():
            components = teacher.prior_components()
        self.prior = None if components is None else tuple(t.detach().float() for t in components)
        total = float(sum(mix))
        self.mix = tuple(m / total for m in mix)

    def counts(self, batch: int) -> tuple[int, ...]:
        """How many of ``batch`` latents each source gives (the posterior takes the rounding)."""
        prior, normal = (round(batch * m) for m in self.mix[1:])
        return batch - prior - normal, prior, normal

    def draw(self, batch: int, g: torch.Generator) -> tuple[Tensor, Tensor | None]:
        n_post, n_prior, n_normal = self.counts(batch)
        p = self.posteriors
        idx = torch.randint(0, len(p.means), (n_post,), generator=g)
        eps = torch.randn((n_post, self.latent_dim), generator=g)
        parts = [p.means[idx] + eps * (0.5 * p.logvars[idx]).exp(), self.from_prior(n_prior, g),
                 torch.randn((n_normal, self.latent_dim), generator=g)]
        if not self.num_classes:
            return torch.cat(parts), None
        other = torch.randint(0, self.num_classes, (n_prior + n_normal,), generator=g)
        return torch.cat(parts), torch.cat([p.labels[idx], other])

    def from_prior(self, n: int, g: torch.Generator) -> Tensor:
        """``n`` draws from the model's prior (``[n, D]``)."""
        if self.prior is None:
            return torch.randn((n, self.latent_dim), generator=g)
        means, logvars = self.prior
        k = torch.randint(0, len(means), (n,), generator=g)
        return means[k] + torch.randn((n, self.latent_dim), generator=g) * (0.5 * logvars[k]).exp()


def encoder_features(teacher: VAE, image: Tensor, label: Tensor | None) -> list[Tensor]:
    """The teacher encoder's activation after its input projection and after each stage."""
    enc = teacher.encoder
    h = enc.input_projection(image * 2 - 1)
    if enc.label_embedding is not None:
        h = h + enc.label_embedding(label)[:, :, None, None].to(h.dtype)
    feats = [h]
    for stage in enc.stages:
        h = stage(h)
        feats.append(h)
    return feats


class DistillLoss(nn.Module):
    """``pixel(student, teacher) + feature_weight * mean_i pixel(f_i(student), f_i(teacher))``.

    Returns ``(loss, pixel term)``, both scalars; the features ``f_i`` are
    :func:`encoder_features` of the (frozen) teacher.
    """

    def __init__(self, teacher: VAE, *, loss: str, feature_weight: float):
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"unknown --loss {loss!r}; choose one of {LOSSES}")
        self.teacher = teacher
        self.distance = nn.functional.l1_loss if loss == "l1" else nn.functional.mse_loss
        self.feature_weight = feature_weight

    def forward(self, out: Tensor, target: Tensor, label: Tensor | None) -> tuple[Tensor, Tensor]:
        pixel = self.distance(out, target)
        if not self.feature_weight:
            return pixel, pixel.detach()
        with torch.no_grad():
            want = encoder_features(self.teacher, target, label)
        got = encoder_features(self.teacher, out, label)
        feature = sum(self.distance(a, b) for a, b in zip(got, want)) / len(got)
        return pixel + self.feature_weight * feature, pixel.detach()
