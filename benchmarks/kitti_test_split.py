"""The untouched KITTI test split T: about 200 kitti_pool frames that share no standing position with any other
frame the benchmarks train or choose thresholds on.

    python benchmarks/kitti_test_split.py [--size 200] [--psnr 17] [--seed 0]

KITTI's object frames come from a few drives, split by frame: the ego car sometimes stands still across several
frames, and only the traffic differs between them. So frames are grouped first: every kitti_pool and kitti_mini
(train and val) frame is shrunk to 160x48 grey pixels, and two frames whose PSNR at that size is at least ``--psnr``
dB are joined (unrelated road frames score 10-14 dB; a standing position 20 dB and more). A group (a connected
component) goes whole to T or to the pool U; a group that holds a kitti_mini frame never goes to T. Groups are drawn
in a seeded order until T holds ``--size`` frames. The list is written to ``datasets/splits/kitti_pool_test.txt``
(committed: the split is fixed by it, not by this script).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
OUT = REPO / "datasets" / "splits" / "kitti_pool_test.txt"


def thumbnails(files: list[Path]) -> np.ndarray:
    """Each image as 160x48 grey pixels, one row per file."""
    return np.stack([cv2.resize(cv2.imread(str(f), cv2.IMREAD_GRAYSCALE), (160, 48), interpolation=cv2.INTER_AREA)
                     .astype(np.float32).ravel() for f in files])


def groups(files: list[Path], psnr: float) -> list[list[int]]:
    """Connected components of the frames joined at >= `psnr` dB (indices into `files`)."""
    x = thumbnails(files)
    norms = (x**2).sum(1)
    mse = np.maximum((norms[:, None] + norms[None] - 2 * x @ x.T) / x.shape[1], 1e-6)
    linked = 10 * np.log10(255**2 / mse) >= psnr
    parent = list(range(len(files)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(linked, 1))):
        parent[root(int(i))] = root(int(j))
    found: dict[int, list[int]] = {}
    for i in range(len(files)):
        found.setdefault(root(i), []).append(i)
    return list(found.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--psnr", type=float, default=17.0)
    parser.add_argument("--seed", type=int, default=0)
    opts = parser.parse_args()
    pool = sorted((SHARED / "kitti_pool" / "images" / "train").glob("*.jpg"))
    mini = sorted((SHARED / "kitti_mini" / "images").glob("*/*.jpg"))
    files = pool + mini
    found = groups(files, opts.psnr)
    eligible = [g for g in found if all(i < len(pool) for i in g)]
    random.Random(opts.seed).shuffle(eligible)
    test: list[int] = []
    for group in eligible:
        if len(test) + len(group) <= opts.size:
            test += group
    names = sorted(pool[i].name for i in test)
    OUT.write_text("".join(f"{n}\n" for n in names))
    sizes = [len(g) for g in found if len(g) > 1]
    print(f"{len(files)} frames in {len(found)} groups ({len(sizes)} of several frames, the largest {max(sizes)}); "
          f"{sum(len(g) for g in found if g not in eligible)} frames (pool and kitti_mini) in groups with a "
          f"kitti_mini frame; T: {len(names)} frames from {sum(1 for g in eligible if g[0] in test)} groups -> {OUT}")


if __name__ == "__main__":
    main()
