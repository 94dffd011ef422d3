"""The CelebA loader for the official layout, and its cache of framed faces.

It reads ``celeba/img_align_celeba/`` + ``celeba/list_eval_partition.txt``: torchvision's
CelebA class insists on annotation files that a subset may not have. Rows of the partition
file whose image is absent are skipped, so a partial copy and a user's full official download
both load. Each face is centre-cropped to a fraction of its width and resized to the image
size asked for, once: the frames are cached (:func:`framed_cache`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from vaekit.format.files import FILE_MODE

from .loaders import SPLITS, ImageSplit, not_found

if TYPE_CHECKING:
    from .config import DataConfig


def load(config: DataConfig, split: str, *, image_size: int, limit: int) -> ImageSplit:
    """The first ``limit`` (0: all) faces of ``split``, framed to uint8 ``[N, 3, image_size,
    image_size]`` (``config.crop_fraction`` of the width); labels are -1 (none)."""
    root = config.root()
    folder = root / "celeba"
    partition = folder / "list_eval_partition.txt"
    images_dir = folder / "img_align_celeba"
    if config.download and not (partition.is_file() and images_dir.is_dir()):
        import torchvision.datasets as tvd

        tvd.CelebA(root=str(root), split="all", download=True)
    if not (partition.is_file() and images_dir.is_dir()):
        raise not_found(
            "CelebA", root, ["celeba/img_align_celeba/000001.jpg ...", "celeba/list_eval_partition.txt"],
            "download img_align_celeba.zip and list_eval_partition.txt from the CelebA site "
            "(mmlab.ie.cuhk.edu.hk/projects/CelebA.html), unzip into <root>/celeba/",
        )
    names = split_names(root, split)
    if limit:
        names = names[:limit]
    if not names:
        raise not_found("CelebA " + split, root, [f"celeba/img_align_celeba/<files of split {split}>"],
                        "check that the images listed in list_eval_partition.txt are present")
    out = framed_cache(images_dir, names, config.crop_fraction, image_size)
    return ImageSplit(torch.from_numpy(out), torch.full((len(names),), -1, dtype=torch.long))


def split_names(root: Path, split: str) -> list[str]:
    """The image names of ``split`` (train/valid/test) under ``root/celeba``, in the partition
    file's order, skipping rows whose image is absent: the order :func:`load` loads them in."""
    folder = root / "celeba"
    want, names = SPLITS.index(split), []
    for line in (folder / "list_eval_partition.txt").read_text().split("\n"):
        parts = line.split()
        if len(parts) == 2 and int(parts[1]) == want and (folder / "img_align_celeba" / parts[0]).is_file():
            names.append(parts[0])
    return names


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
