"""Datasets as in-memory uint8 tensors, and seeded batching.

MNIST and Fashion-MNIST come through torchvision's own classes (its IDX reader, its
download). CelebA has its own loader for the official layout (``celeba/img_align_celeba/``
+ ``celeba/list_eval_partition.txt``): torchvision's CelebA class insists on annotation
files that a subset may not have. Rows of the partition file whose image is absent are
skipped, so a partial copy and a user's full official download both load.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from vaekit.format.files import FILE_MODE

from .config import DataConfig

SPLITS = ("train", "valid", "test")


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is not where it was looked for; the message says how to get it."""


@dataclass
class ImageSplit:
    """One split: ``images`` uint8 ``[N, C, H, W]``, ``labels`` int64 ``[N]`` (-1 if none)."""

    images: Tensor
    labels: Tensor
    classes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.images)

    def float_batch(self, index: Tensor | slice) -> Tensor:
        return self.images[index].float().div_(255)


def _missing(name: str, root: Path, files: list[str], fetch_hint: str) -> DatasetNotFoundError:
    listed = "\n".join(f"  {root / f}" for f in files)
    return DatasetNotFoundError(
        f"{name} not found under data root {root}. Expected:\n{listed}\n"
        f"Get it either way: (1) pass --download to fetch it with torchvision (needs internet), "
        f"or (2) {fetch_hint} and pass --data-root to the folder that contains it."
    )


def _torchvision_idx(cls_name: str, folder: str, classes: tuple[str, ...]):
    def load(config: DataConfig, split: str) -> ImageSplit:
        import torchvision.datasets as tvd

        root = config.root()
        cls = getattr(tvd, cls_name)
        train = split != "test"
        try:
            ds = cls(root=str(root), train=train, download=config.download)
        except RuntimeError as e:  # torchvision: "Dataset not found. You can use download=True"
            files = [f"{folder}/raw/{n}" for n in (
                "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")]
            raise _missing(
                cls_name, root, files,
                "copy the four uncompressed IDX files into that raw/ folder",
            ) from e
        images, labels = ds.data.unsqueeze(1).contiguous(), ds.targets.long()
        if split != "test":
            images, labels = _holdout(images, labels, split, config)
        return ImageSplit(images, labels, classes)

    return load


def _holdout(images: Tensor, labels: Tensor, split: str, config: DataConfig):
    """Seeded validation hold-out from a training set that has no official one."""
    n = len(images)
    val = min(config.val_size, n // 5)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(1234))
    idx = perm[:val] if split == "valid" else perm[val:].sort().values
    return images[idx], labels[idx]


def _load_celeba(config: DataConfig, split: str, size: int = 64) -> ImageSplit:
    root = config.root()
    folder = root / "celeba"
    partition = folder / "list_eval_partition.txt"
    images_dir = folder / "img_align_celeba"
    if config.download and not (partition.is_file() and images_dir.is_dir()):
        import torchvision.datasets as tvd

        tvd.CelebA(root=str(root), split="all", download=True)
    if not (partition.is_file() and images_dir.is_dir()):
        raise _missing(
            "CelebA", root, ["celeba/img_align_celeba/000001.jpg ...", "celeba/list_eval_partition.txt"],
            "download img_align_celeba.zip and list_eval_partition.txt from the CelebA site "
            "(mmlab.ie.cuhk.edu.hk/projects/CelebA.html), unzip into <root>/celeba/",
        )
    want = SPLITS.index(split)
    names = []
    for line in partition.read_text().split("\n"):
        parts = line.split()
        if len(parts) == 2 and int(parts[1]) == want and (images_dir / parts[0]).is_file():
            names.append(parts[0])
    if config.limit and split == "train":
        names = names[: config.limit]
    if not names:
        raise _missing("CelebA " + split, root, [f"celeba/img_align_celeba/<files of split {split}>"],
                       "check that the images listed in list_eval_partition.txt are present")
    out = framed_cache(images_dir, names, config.crop_fraction, size)
    return ImageSplit(torch.from_numpy(out), torch.full((len(names),), -1, dtype=torch.long))


CACHE_VERSION = 1


def framed_cache(images_dir: Path, names: list[str], crop_fraction: float, size: int) -> np.ndarray:
    """The framed faces as uint8 ``[N, 3, size, size]``, decoded from JPEG once and cached.

    The cache is one ``.npy`` in the user's cache folder (:func:`cache_folder`: ``$VAEKIT_CACHE``
    when set, else ``$XDG_CACHE_HOME/vaekit``, else ``~/.cache/vaekit``), never in the data
    folder unless ``VAEKIT_CACHE`` points there; a cache an older vaekit wrote beside the images
    (``celeba/.vaekit-cache/``) is still read. Its name holds the framing (crop fraction,
    size), the loader version and a hash of the file list, so a change to any of them builds
    a new one; no epoch decodes a JPEG again.
    """
    key = hashlib.sha256("\n".join(names).encode()).hexdigest()[:12]
    name = f"celeba-v{CACHE_VERSION}-{size}px-crop{crop_fraction:.6f}-{len(names)}-{key}.npy"
    for folder in (cache_folder(), images_dir.parent / ".vaekit-cache"):
        if (folder / name).is_file():
            try:
                return np.load(folder / name, allow_pickle=False)
            except (OSError, ValueError):
                pass  # a damaged cache is rebuilt below
    out = _decode_all(images_dir, names, crop_fraction, size)
    folder = cache_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
        try:
            os.chmod(tmp, FILE_MODE)  # a cache others may read, not mkstemp's private 0o600
            with os.fdopen(fd, "wb") as f:
                np.save(f, out, allow_pickle=False)
            os.replace(tmp, folder / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:  # no cache: the next run decodes again, nothing else changes
        print(f"note: the CelebA frames were not cached in {folder} ({e.strerror or e}); set "
              f"VAEKIT_CACHE to a writable folder to decode them only once")
    return out


def cache_folder() -> Path:
    """Where vaekit caches what it derives from a dataset: ``$VAEKIT_CACHE``, else
    ``$XDG_CACHE_HOME/vaekit``, else ``~/.cache/vaekit`` (never the data folder unless asked)."""
    if os.environ.get("VAEKIT_CACHE"):
        return Path(os.environ["VAEKIT_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vaekit"


def _decode_all(images_dir: Path, names: list[str], crop_fraction: float, size: int) -> np.ndarray:
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image
    from tqdm import tqdm

    out = np.empty((len(names), 3, size, size), dtype=np.uint8)

    def one(i: int) -> None:
        with Image.open(images_dir / names[i]) as im:
            framed = celeba_frame(im.convert("RGB"), crop_fraction, size)
            out[i] = np.asarray(framed).transpose(2, 0, 1)

    with ThreadPoolExecutor(max_workers=min(16, os.cpu_count() or 1)) as pool:
        list(tqdm(pool.map(one, range(len(names))), total=len(names), leave=False,
                  desc=f"decoding {len(names)} CelebA JPEGs once (cached)",
                  disable=len(names) < 1000))
    return out


def celeba_frame(image, crop_fraction: float, size: int):
    """Centre-crop a square ``crop_fraction`` of the width, resize to ``size``.

    140/178 of the width is the common 64x64 CelebA framing; as a fraction it gives the same
    faces at the official 178x218 and at the half-resolution 89x109.
    """
    from PIL import Image

    w, h = image.size
    side = round(w * crop_fraction)
    left, top = (w - side) // 2, (h - side) // 2
    return image.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)


DIGITS = tuple(str(i) for i in range(10))
FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot")

LOADERS: dict[str, Callable[[DataConfig, str], ImageSplit]] = {
    "mnist": _torchvision_idx("MNIST", "MNIST", DIGITS),
    "fashion-mnist": _torchvision_idx("FashionMNIST", "FashionMNIST", FASHION),
    "celeba": _load_celeba,
}

#: How each dataset's pictures look and how its loader framed them; the exporter writes this
#: into vaekit.json (``background``, ``framing``) so that a consumer (the demo) frames a
#: visitor's picture the same way without knowing dataset names.
PRESENTATION: dict[str, Callable[[DataConfig], dict]] = {
    # NIST digits were scaled into a 20x20 box and centred by centre of mass in 28x28
    "mnist": lambda c: {"background": "dark",
                        "framing": {"method": "ink-box", "box": 20 / 28, "centre": "mass"}},
    # products trimmed to their box, scaled to 28 pixels on the longer side and centred
    "fashion-mnist": lambda c: {"background": "dark",
                                "framing": {"method": "ink-box", "box": 1.0, "centre": "box"}},
    "celeba": lambda c: {"background": "light",
                         "framing": {"method": "centre-crop", "crop_fraction": c.crop_fraction}},
}


def presentation(config: DataConfig) -> dict:
    """``{"background": ..., "framing": ...}`` of ``config.dataset`` (see :data:`PRESENTATION`)."""
    if config.dataset not in PRESENTATION:
        raise ValueError(f"unknown dataset {config.dataset!r}; choose one of {sorted(PRESENTATION)}")
    return PRESENTATION[config.dataset](config)


def load_split(config: DataConfig, split: str) -> ImageSplit:
    """Load ``split`` (train/valid/test) of ``config.dataset`` as uint8 tensors."""
    if config.dataset not in LOADERS:
        raise ValueError(f"unknown dataset {config.dataset!r}; choose one of {sorted(LOADERS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    data = LOADERS[config.dataset](config, split)
    if config.limit and split == "train" and len(data) > config.limit:
        data = ImageSplit(data.images[: config.limit], data.labels[: config.limit], data.classes)
    return data


def batches(
    data: ImageSplit, batch_size: int, *, shuffle: bool, generator: torch.Generator | None = None
) -> Iterator[tuple[Tensor, Tensor]]:
    """Yield ``(images float [B, C, H, W] in [0, 1], labels [B])``."""
    n = len(data)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        yield data.float_batch(idx), data.labels[idx]


def binarize(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Dynamic binarisation: each pixel is 1 with probability equal to its intensity."""
    return torch.bernoulli(x, generator=generator)
