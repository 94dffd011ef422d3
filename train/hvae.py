"""A hierarchical VAE with top-down inference (Ladder VAE, NVAE, VDVAE) on the U-Net backbone.

Bottom-up, the encoder's stages compute features at every scale of the U-Net. Top-down, the
decoder starts from a learned constant at the bottleneck and walks up the decoder path; at each
latent group ``l`` (``HVAEConfig.latent_scales`` / ``latent_channels``) one small network reads
the top-down state ``h`` and gives the prior ``p(z_l | z_<l) = N(mu_p, sigma_p)``, and another
reads ``h`` with the encoder's features at that scale and gives the posterior as offsets on the
prior's (NVAE's residual parameterisation)::

    q(z_l | x, z_<l) = N(mu_p + d_mu, sigma_p * exp(d_log_sigma))

``z_l`` is merged into ``h`` and the walk goes on.

Every latent lives in prior-standardised coordinates ``eps_l = (z_l - mu_p) / sigma_p``: the
decoder graph maps ``eps [N, D]`` (all groups, flattened and concatenated, ``D =
config.latent_dim``) to an image, so ``eps ~ N(0, I)`` is an ancestral sample of the
hierarchical prior; the posterior in those coordinates is ``N(d_mu / sigma_p,
exp(d_log_sigma)**2)``, and each group's KL is the KL of that Gaussian to ``N(0, I)``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from .blocks import ConvBlock, Downsample, ResidualBlock, Upsample, make_norm
from .config import HVAEConfig
from .model import VAE, channel_dims
from .objective import Likelihood, gaussian_log_prob, get_likelihood, standard_normal_log_prob

#: log-scales are soft-clamped to (-LOG_SCALE_LIMIT, LOG_SCALE_LIMIT) (tanh), so one spiking
#: update cannot give a scale of exp(50)
LOG_SCALE_LIMIT = 5.0


def soft_clamp(x: Tensor, limit: float = LOG_SCALE_LIMIT) -> Tensor:
    return limit * torch.tanh(x / limit)


def state_channels(config: HVAEConfig, scale: int) -> int:
    """Channels of the top-down state (and the encoder's features) at ``scale``."""
    dims = channel_dims(config)
    return dims[min(scale + 1, len(dims) - 1)]


def side(config: HVAEConfig, scale: int) -> int:
    return config.image_size // 2**scale


class GroupStats(NamedTuple):
    """One group's draw in eps coordinates, each ``[N, D_l]``: the posterior's ``mean`` and
    ``logvar`` (zeros for a prior draw) and the ``eps`` the walk used."""

    mean: Tensor
    logvar: Tensor
    eps: Tensor


class BottomUp(nn.Module):
    """``image [N, C, H, W] in [0, 1] -> [features at scale 0, 1, ..., k]``, k = ``len(dim_mults)``.

    Scale ``s`` is ``[N, state_channels(s), H / 2**s, W / 2**s]``: the encoder stages of
    :class:`~vaekit.train.model.Encoder` with each stage's output kept before it is halved,
    and the bottleneck's output last.
    """

    def __init__(self, config: HVAEConfig):
        super().__init__()
        dims = channel_dims(config)
        norm = dict(norm=config.norm, groups=config.groups)
        self.input_projection = nn.Conv2d(config.in_channels, dims[0], 3, padding=1)
        self.stages = nn.ModuleList()
        self.downs = nn.ModuleList()
        for c_in, c_out in zip(dims[:-1], dims[1:]):
            blocks = [ConvBlock(in_channels=c_in, out_channels=c_out, **norm)]
            blocks += [ConvBlock(in_channels=c_out, out_channels=c_out, **norm)
                       for _ in range(config.blocks_per_stage - 1)]
            self.stages.append(nn.Sequential(*blocks))
            self.downs.append(Downsample(channels=c_out))
        self.bottleneck = nn.Sequential(
            *(ResidualBlock(channels=dims[-1], **norm) for _ in range(config.bottleneck_blocks)))

    def forward(self, image: Tensor) -> list[Tensor]:
        h = self.input_projection(image * 2 - 1)
        features = []
        for stage, down in zip(self.stages, self.downs):
            h = stage(h)
            features.append(h)
            h = down(h)
        features.append(self.bottleneck(h))
        return features


class GroupCell(nn.Module):
    """One latent group: prior and posterior from the top-down state, then ``z`` merged in.

    ``h [N, C, S, S]`` (and the encoder's ``feature`` of the same shape) ``-> h'`` of the same
    shape; ``latent_channels`` maps of ``S x S`` latents.
    """

    def __init__(self, *, channels: int, latent_channels: int, norm: str, groups: int):
        super().__init__()
        self.latent_channels = latent_channels
        self.prior = nn.Sequential(make_norm(norm, channels, groups=groups), nn.SiLU(),
                                   nn.Conv2d(channels, 2 * latent_channels, 3, padding=1))
        self.posterior = nn.Sequential(
            ConvBlock(in_channels=2 * channels, out_channels=channels, norm=norm, groups=groups),
            make_norm(norm, channels, groups=groups), nn.SiLU(),
            nn.Conv2d(channels, 2 * latent_channels, 3, padding=1))
        # the posterior starts as the prior (offsets 0): no KL spike on the first steps
        nn.init.zeros_(self.posterior[-1].weight)
        nn.init.zeros_(self.posterior[-1].bias)
        self.merge = nn.Conv2d(latent_channels, channels, 1)
        self.block = ResidualBlock(channels=channels, norm=norm, groups=groups)

    def forward(self, h: Tensor, feature: Tensor | None, noise: Tensor | None
                ) -> tuple[Tensor, GroupStats]:
        """``noise [N, D_l]``: the standard normal draw (None: the posterior mean, or eps = 0
        for a prior walk). Without ``feature`` the walk follows the prior and ``noise`` is
        eps itself."""
        mu_p, log_sigma_p = self.prior(h).float().chunk(2, dim=1)
        log_sigma_p = soft_clamp(log_sigma_p)
        shape = mu_p.shape
        if feature is None:
            eps = (torch.zeros_like(mu_p) if noise is None else noise.reshape(shape).float())
            mean = logvar = torch.zeros_like(eps)
        else:
            d_mu, d_log_sigma = self.posterior(torch.cat([h, feature], dim=1)).float().chunk(2, 1)
            d_log_sigma = soft_clamp(d_log_sigma)
            mean = d_mu * torch.exp(-log_sigma_p)  # q's mean offset, in units of sigma_p
            logvar = 2 * d_log_sigma
            eps = mean if noise is None else mean + torch.exp(d_log_sigma) * noise.reshape(shape)
        z = mu_p + torch.exp(log_sigma_p) * eps
        h = self.block(h + self.merge(z.to(h.dtype)))
        return h, GroupStats(mean.flatten(1), logvar.flatten(1), eps.flatten(1))


class TopDown(nn.Module):
    """The top-down decoder. ``forward(eps [N, D]) -> likelihood params [N, P, H, W]``: an
    ancestral draw of the hierarchical prior for ``eps ~ N(0, I)`` (the decoder graph)."""

    def __init__(self, config: HVAEConfig, likelihood: Likelihood):
        super().__init__()
        dims = channel_dims(config)
        norm = dict(norm=config.norm, groups=config.groups)
        self.top = k = len(dims) - 1
        self.initial = nn.Parameter(torch.zeros(1, dims[k], side(config, k), side(config, k)))
        self.bottleneck = nn.Sequential(
            *(ResidualBlock(channels=dims[k], **norm) for _ in range(config.bottleneck_blocks)))
        self.ups = nn.ModuleList()
        self.stages = nn.ModuleList()
        for c_out, c_in in zip(dims[:-1], dims[1:]):  # index = the scale it decodes into
            self.ups.append(Upsample(channels=c_in))
            blocks = [ConvBlock(in_channels=c_in, out_channels=c_in, **norm)
                      for _ in range(config.blocks_per_stage - 1)]
            blocks.append(ConvBlock(in_channels=c_in, out_channels=c_out, **norm))
            self.stages.append(nn.Sequential(*blocks))
        self.scales = tuple(config.latent_scales)
        self.cells = nn.ModuleList(
            GroupCell(channels=state_channels(config, s), latent_channels=c, **norm)
            for s, c in zip(config.latent_scales, config.latent_channels))
        #: latent units of each group, top-down: eps splits into these
        self.sizes = tuple(c * side(config, s) ** 2
                           for s, c in zip(config.latent_scales, config.latent_channels))
        self.output_projection = nn.Sequential(
            make_norm(config.norm, dims[0], groups=config.groups), nn.SiLU(),
            nn.Conv2d(dims[0], likelihood.param_channels(config.in_channels), 3, padding=1))
        likelihood.init_output_bias(self.output_projection[-1].bias)

    def forward(self, eps: Tensor, label: Tensor | None = None) -> Tensor:
        params, _ = self.walk(None, eps)
        return params

    def walk(self, features: list[Tensor] | None, noise: Tensor | None, *,
             stop_after_last_group: bool = False) -> tuple[Tensor | None, list[GroupStats]]:
        """Walk top-down; returns ``(params [N, P, H, W] or None, one GroupStats per group)``.

        ``features`` (from :class:`BottomUp`) make it draw from the posterior, with ``noise [N, D]``
        its standard normal draws (None: the posterior means); without them it draws from the
        prior with ``noise`` as eps. ``stop_after_last_group`` skips the layers below the last
        group (the encoder graph needs only the posterior).
        """
        ref = noise if noise is not None else features[-1]
        # the learned constant, broadcast to the batch by arithmetic rather than a shape computed
        # at run time (Shape -> Expand), which OpenCV DNN 4 refuses
        h = self.initial + 0 * ref.flatten(1)[:, :1].reshape(-1, 1, 1, 1).to(self.initial.dtype)
        ends = [sum(self.sizes[: i + 1]) for i in range(len(self.sizes))]
        chunks = ([noise[:, end - size : end] for end, size in zip(ends, self.sizes)]
                  if noise is not None else [None] * len(self.sizes))
        stats: list[GroupStats] = []
        cell = 0
        for scale in range(self.top, -1, -1):
            if scale < self.top:
                h = self.ups[scale](h)
            while cell < len(self.cells) and self.scales[cell] == scale:
                feature = None if features is None else features[scale]
                h, st = self.cells[cell](h, feature, chunks[cell])
                stats.append(st)
                cell += 1
            if stop_after_last_group and cell == len(self.cells):
                return None, stats
            h = self.bottleneck(h) if scale == self.top else self.stages[scale](h)
        return self.output_projection(h).float(), stats


class PosteriorGraph(nn.Module):
    """``image [N, C, H, W] -> (mean [N, D], logvar [N, D])``: the posterior in eps coordinates.

    Group ``l``'s Gaussian is conditioned on the groups above it at their posterior means: what
    the encoder graph exports. It holds the model's own modules (no copy of the weights).
    """

    def __init__(self, bottom_up: BottomUp, top_down: TopDown):
        super().__init__()
        self.bottom_up = bottom_up
        self.top_down = top_down

    def forward(self, image: Tensor, label: Tensor | None = None) -> tuple[Tensor, Tensor]:
        _, stats = self.top_down.walk(self.bottom_up(image), None, stop_after_last_group=True)
        return (torch.cat([s.mean for s in stats], dim=1),
                torch.cat([s.logvar for s in stats], dim=1))


def group_kl(stats: GroupStats) -> Tensor:
    """KL(q(z_l | x, z_<l) || p(z_l | z_<l)) per image ``[N]``: the eps-space Gaussian vs N(0, I)."""
    return 0.5 * (stats.mean.pow(2) + stats.logvar.exp() - 1 - stats.logvar).sum(1)


def kl_balance_weights(kls: Tensor, sizes: Tensor) -> Tensor:
    """NVAE's KL balancing coefficients ``[G]`` for the groups' batch-mean KLs ``kls [G]`` (nats).

    Proportional to each group's KL per latent unit (plus 0.01 nats), normalised to mean 1 and
    detached: a group that carries much information per unit is pushed harder, one that carries
    little is left alone, so no group collapses while the KL weight warms up.
    """
    w = (kls.detach().abs() + 0.01) / sizes
    return w / w.mean()


class HVAE(VAE):
    """Hierarchical VAE (see the module doc). Terms (nats per dimension): ``loss``, ``elbo``,
    ``recon``, ``kl`` and ``kl_g0``, ``kl_g1``, ... (each group's KL, top-down).

    ``encoder`` is the export's encoder graph (:class:`PosteriorGraph`, built on access from
    ``bottom_up`` and ``decoder``); ``decoder`` is :class:`TopDown`, whose ``forward`` is the
    decoder graph.
    """

    config_class = HVAEConfig

    def __init__(self, config: HVAEConfig):
        nn.Module.__init__(self)
        if not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__} needs a {self.config_class.__name__}")
        self.config = config
        self.likelihood = get_likelihood(config.likelihood)
        self.bottom_up = BottomUp(config)
        self.decoder = TopDown(config, self.likelihood)

    @property
    def encoder(self) -> PosteriorGraph:
        return PosteriorGraph(self.bottom_up, self.decoder)

    def group_names(self) -> list[str]:
        return [f"kl_g{i}" for i in range(len(self.decoder.cells))]

    def _walk(self, x: Tensor, repeats: int = 1, *, generator: torch.Generator | None = None
              ) -> tuple[Tensor, list[GroupStats]]:
        features = self.bottom_up(x)
        if repeats > 1:
            features = [f.repeat(repeats, 1, 1, 1) for f in features]
        noise = torch.randn((len(x) * repeats, self.config.latent_dim), generator=generator,
                            device=x.device)
        params, stats = self.decoder.walk(features, noise)
        return params, stats

    def terms(self, x: Tensor, y: Tensor | None = None, *,
              generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Per-image terms in nats, each ``[N]``: ``recon``, ``kl``, ``elbo`` and each group's KL."""
        params, stats = self._walk(x, generator=generator)
        recon = self.likelihood.nll(params, x)
        kls = [group_kl(s) for s in stats]
        kl = torch.stack(kls).sum(0)
        return {"recon": recon, "kl": kl, "elbo": -(recon + kl),
                **dict(zip(self.group_names(), kls))}

    def forward(self, x: Tensor, y: Tensor | None = None, *, kl_scale: float = 1.0
                ) -> dict[str, Tensor]:
        t = self.terms(x, y)
        dims = self.data_dims
        names = self.group_names()
        kls = torch.stack([t[n].mean() for n in names])  # [G], nats per image
        weights = torch.ones_like(kls)
        if self.config.kl_balance and kl_scale < 1.0:
            weights = kl_balance_weights(kls, kls.new_tensor(self.decoder.sizes))
        recon, kl = t["recon"].mean() / dims, kls.sum() / dims
        loss = recon + kl_scale * (weights * kls).sum() / dims
        return {"loss": loss, "elbo": -(recon + kl), "recon": recon, "kl": kl,
                **{n: v / dims for n, v in zip(names, kls)}}

    def sample_weights(self, x: Tensor, y: Tensor | None, samples: int, *,
                       generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``(log p(x|z_k), log p(z_k) - log q(z_k|x))`` over the joint of all groups: ``[K, N]``.

        Each group's prior and posterior are Gaussians of the same affine map of eps, so the
        ratio is computed in eps coordinates (the Jacobians cancel).
        """
        params, stats = self._walk(x, samples, generator=generator)
        log_px = -self.likelihood.nll(params, x.repeat(samples, 1, 1, 1)).view(samples, -1)
        ratio = sum(standard_normal_log_prob(s.eps) - gaussian_log_prob(s.eps, s.mean, s.logvar)
                    for s in stats)
        return log_px, ratio.view(samples, -1)

    def encode(self, x: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
        return self.encoder(x)

    def decode(self, z: Tensor, y: Tensor | None) -> Tensor:
        return self.decoder(z)

    def kl(self, mean: Tensor, logvar: Tensor, z: Tensor) -> Tensor:
        raise NotImplementedError("the hierarchical KL needs the walk: use terms()")

    @torch.no_grad()
    def ancestral_sample(self, n: int, *, generator: torch.Generator | None = None,
                         temperature: float = 1.0) -> tuple[Tensor, list[Tensor]]:
        """``(mean images [n, C, H, W], z of each group [n, D_l])`` drawn top-down in z space.

        Independent of the eps coordinates: each ``z_l = mu_p + sigma_p * t * e`` with ``e``
        standard normal, merged as it is drawn (what the exported decoder must reproduce).
        """
        device = self.decoder.initial.device
        h = self.decoder.initial.expand(n, -1, -1, -1)
        zs: list[Tensor] = []
        cell = 0
        for scale in range(self.decoder.top, -1, -1):
            if scale < self.decoder.top:
                h = self.decoder.ups[scale](h)
            while cell < len(self.decoder.cells) and self.decoder.scales[cell] == scale:
                c = self.decoder.cells[cell]
                mu_p, log_sigma_p = c.prior(h).float().chunk(2, dim=1)
                e = torch.randn(mu_p.shape, generator=generator, device=device)
                z = mu_p + torch.exp(soft_clamp(log_sigma_p)) * temperature * e
                h = c.block(h + c.merge(z.to(h.dtype)))
                zs.append(z.flatten(1))
                cell += 1
            h = self.decoder.bottleneck(h) if scale == self.decoder.top else self.decoder.stages[scale](h)
        return self.likelihood.mean(self.decoder.output_projection(h).float()), zs
