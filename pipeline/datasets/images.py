"""Image files as the dataset tools see them: which files count as images, their size, readability and hash."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from PIL import Image


@dataclass(frozen=True)
class ImageInfo:
    """What one image file holds: pixel size after EXIF rotation, a content hash, and a JPEG end-marker flag."""

    width: int
    height: int
    digest: str
    jpeg_unterminated: bool = False  # Ultralytics re-saves such JPEGs in place when it first loads them


def image_suffixes() -> list[str]:
    """The file suffixes Ultralytics loads as images (``.jpg``, ``.png``, ...), sorted: what :func:`is_image` takes."""
    from pipeline.ultralytics_api import IMG_FORMATS

    return sorted(f".{fmt}" for fmt in IMG_FORMATS)


def is_image(path: Path) -> bool:
    """True for the file suffixes Ultralytics loads as images."""
    from pipeline.ultralytics_api import IMG_FORMATS

    return path.suffix[1:].lower() in IMG_FORMATS


def image_files(entry: Path, prefix: str = "") -> list[Path]:
    """The images training reads from one split entry (a folder, searched recursively, or an image-list .txt whose
    ``./`` lines are relative to it); empty when it holds none.
    """
    from pipeline.ultralytics_api import BaseDataset

    # Ultralytics 8.4.190 BaseDataset.get_img_files is the lister training uses; it reads nothing of the dataset
    # but `prefix` (log lines) and `fraction`, so it runs on a stand-in. It raises when it finds no image.
    try:
        files = BaseDataset.get_img_files(SimpleNamespace(prefix=prefix, fraction=1.0), str(entry))
    except FileNotFoundError:
        return []
    return [Path(f) for f in files]


def _opener(path: Path) -> Callable[..., Image.Image]:
    """PIL's own ``Image.open`` for all but HEIF files.

    Ultralytics 8.4.190 (``ultralytics/utils/patches.py``) replaces ``Image.open`` with a version that pip-installs
    pi-heif whenever a file is not identified; a corrupt JPEG must be reported, not trigger an install.
    """
    from pipeline.ultralytics_api import patches

    return Image.open if path.suffix.lower() in {".heic", ".heif"} else getattr(patches, "_image_open", Image.open)


def inspect_image(path: Path, decode: bool) -> ImageInfo:
    """Read one image file; raise ``ValueError`` with the reason when it cannot be used.

    ``decode=False`` checks the header and structure (PIL ``verify``: PNG checksums, JPEG markers), fast enough to
    run before every training; ``decode=True`` also decodes every pixel, which catches truncated image data.
    """
    from pipeline.ultralytics_api import exif_size  # the size Ultralytics itself will see

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read file ({exc.strerror or exc})") from None
    opener = _opener(path)
    try:
        with opener(io.BytesIO(data)) as im:
            im.verify()
        with opener(io.BytesIO(data)) as im:  # verify() leaves the image unusable: reopen for size and pixels
            if decode:
                im.load()
            width, height = exif_size(im)
            fmt = (im.format or "").lower()
    except Image.UnidentifiedImageError:
        raise ValueError("not a readable image (unknown format or corrupt header)") from None
    except Exception as exc:  # PIL raises many types (OSError, SyntaxError, ValueError...) for broken files
        raise ValueError(f"not a readable image ({exc})") from None
    if width < 1 or height < 1:
        raise ValueError(f"empty image ({width}x{height})")
    unterminated = fmt in {"jpeg", "mpo"} and not data.rstrip(b"\0").endswith(b"\xff\xd9")
    return ImageInfo(width, height, hashlib.blake2b(data, digest_size=16).hexdigest(), unterminated)
