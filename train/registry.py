"""The one table of model variants: ``model_type`` -> model class.

The modules that define models (:mod:`~vaekit.train.model`, :mod:`~vaekit.train.variants`,
:mod:`~vaekit.train.hvae`) import nothing from here; this module imports them and lists each
class once, so :data:`MODELS` is complete whichever module a caller imports first, and no
module imports one that imports it back. The training command's ``--model`` choices and
:func:`build_model` (what a checkpoint is rebuilt with) read it.

Adding a variant: a config registered with ``@model_config(name)`` in
:mod:`vaekit.train.config`, a model class whose ``config_class`` is it, and its name in
:data:`BUILT_IN` below.
"""

from __future__ import annotations

from .config import MODEL_CONFIGS, VAEConfig
from .hvae import HVAE
from .model import VAE, BetaVAE
from .variants import CVAE, IWAE, MoGPrior, VampPrior

MODELS: dict[str, type[VAE]] = {}

#: the variants vaekit ships
BUILT_IN: tuple[type[VAE], ...] = (VAE, BetaVAE, IWAE, CVAE, VampPrior, MoGPrior, HVAE)


def register(cls: type[VAE]) -> type[VAE]:
    """Add a VAE variant under its config's ``model_type`` (usable as ``@register``).

    The config class must itself be registered (``@model_config(name)`` in
    :mod:`vaekit.train.config`); each name has one model class.
    """
    name = cls.config_class.model_type
    if MODEL_CONFIGS.get(name) is not cls.config_class:
        raise TypeError(f"{cls.__name__}.config_class {cls.config_class.__name__} is not "
                        f"registered with @model_config({name!r})")
    if name in MODELS:
        raise TypeError(f"model_type {name!r} is registered twice "
                        f"({MODELS[name].__name__} and {cls.__name__})")
    MODELS[name] = cls
    return cls


for _cls in BUILT_IN:
    register(_cls)
del _cls


def model_names() -> list[str]:
    """The registered ``model_type`` names, sorted: the CLI's ``--model`` choices."""
    return sorted(MODELS)


def build_model(config: VAEConfig) -> VAE:
    """A freshly initialised model of ``config``'s variant."""
    name = config.model_type
    if name not in MODELS:
        raise ValueError(f"model_type {name!r} has a config but no registered model class; "
                         f"known models: {model_names()}")
    return MODELS[name](config)
