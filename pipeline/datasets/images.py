"""Image files as the dataset tools see them: which files count as images, their size, readability and hash."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image


@dataclass(frozen=True)
class ImageInfo:
    """What one image file holds: pixel size after EXIF rotation, a content hash, and a JPEG end-marker flag."""

    width: int
    height: int
    digest: str
    jpeg_unterminated: bool = False  # Ultralytics re-saves such JPEGs in place when it first loads them


def is_image(path: Path) -> bool:
    """True for the file suffixes Ultralytics loads as images."""
    from ultralytics.data.utils import IMG_FORMATS

    return path.suffix[1:].lower() in IMG_FORMATS


def inspect_image(path: Path, decode: bool) -> ImageInfo:
    """Read one image file; raise ``ValueError`` with the reason when it cannot be used.

    ``decode=False`` checks the header and structure (PIL ``verify``: PNG checksums, JPEG markers), fast enough to
    run before every training; ``decode=True`` also decodes every pixel, which catches truncated image data.
    """
    from ultralytics.data.utils import exif_size  # the size Ultralytics itself will see

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read file ({exc.strerror or exc})") from None
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.verify()
        with Image.open(io.BytesIO(data)) as im:  # verify() leaves the image unusable: reopen for size and pixels
            if decode:
                im.load()
            width, height = exif_size(im)
            fmt = (im.format or "").lower()
    except Exception as exc:  # PIL raises many types (OSError, SyntaxError, ValueError...) for broken files
        raise ValueError(f"not a readable image ({exc})") from None
    if width < 1 or height < 1:
        raise ValueError(f"empty image ({width}x{height})")
    unterminated = fmt in {"jpeg", "mpo"} and not data.rstrip(b"\0").endswith(b"\xff\xd9")
    return ImageInfo(width, height, hashlib.blake2b(data, digest_size=16).hexdigest(), unterminated)
