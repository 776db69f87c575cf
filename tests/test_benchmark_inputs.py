"""The label-efficiency benchmark refuses a bad test split or budget before it writes anything (exit 2, naming the
frame or the budget); the committed test split is disjoint from everything the benchmarks train on."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO, shared_path

SCRIPT = REPO / "benchmarks" / "label_efficiency.py"
TEST_LIST = REPO / "datasets" / "splits" / "kitti_pool_test.txt"


def _run(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--work", str(tmp_path / "work"), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("frame", "said"), [("000999999.jpg", "not a kitti_pool frame"),
                                             (None, "a kitti_mini frame")])
def test_a_test_list_with_a_foreign_frame_exits_2_naming_it(tmp_path, frame, said):
    mini = shared_path("data/kitti_mini")
    shared_path("data/kitti_pool")
    frame = frame or next((mini / "images" / "train").iterdir()).name
    bad = tmp_path / "t.txt"
    bad.write_text(TEST_LIST.read_text() + f"{frame}\n")
    done = _run(tmp_path, "--test-list", str(bad))
    assert done.returncode == 2 and f"{frame} is {said}" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "work").exists()


def test_a_budget_below_one_epoch_of_the_largest_set_exits_2(tmp_path):
    shared_path("data/kitti_pool")
    done = _run(tmp_path, "--budgets", "20")
    assert done.returncode == 2 and "--budgets: 20 batches is less than one epoch of the largest set" in done.stderr
    assert not (tmp_path / "work").exists()


def test_the_committed_test_split_is_kitti_pool_only():
    pool = {p.name for p in (shared_path("data/kitti_pool") / "images" / "train").iterdir()}
    mini = {p.name for p in (shared_path("data/kitti_mini") / "images").glob("*/*")}
    names = TEST_LIST.read_text().split()
    assert len(names) == len(set(names)) == 200
    assert set(names) <= pool and not set(names) & mini
