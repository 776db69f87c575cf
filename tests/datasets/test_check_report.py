"""What a dataset check found and the checks every task shares: the report (ok, JSON form, the printed tables with
capped lists), unreadable images, Ultralytics' own verdict on an image and its label, byte-identical images."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np

from pipeline.datasets.check_report import DatasetReport, SplitStats, add_duplicate_warnings, add_verdict, scan_image


def write_image(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    return path


def report_with(errors=(), warnings=(), task="detect") -> DatasetReport:
    train = SplitStats(images=3, instances=Counter({0: 5, 1: 2, 7: 1}), sizes=Counter(small=6, large=2), empty=1)
    return DatasetReport("d.yaml", task, {0: "car", 1: "bus"}, {"train": train, "val": SplitStats(images=1)},
                         list(errors), list(warnings))


def test_ok_means_no_errors_and_warnings_do_not_count():
    assert report_with(warnings=["w"]).ok and not report_with(errors=["e"]).ok


def test_the_json_form_keys_class_counts_by_name(tmp_path):
    report = report_with(warnings=["w"])
    data = report.to_dict()
    assert data["ok"] is True and data["names"] == {0: "car", 1: "bus"} and data["warnings"] == ["w"]
    assert data["splits"]["train"] == {"images": 3, "instances": {"car": 5, "bus": 2, "7": 1},
                                       "sizes": {"small": 6, "large": 2}, "empty": 1, "missing_labels": 0}
    report.write_json(tmp_path / "sub" / "report.json")
    assert json.loads((tmp_path / "sub" / "report.json").read_text())["splits"]["val"]["images"] == 1


def test_render_prints_the_tables_and_caps_each_list():
    text = report_with(errors=[f"e{i}" for i in range(5)], warnings=["w"]).render(limit=3)
    lines = text.splitlines()
    assert lines[0] == "d.yaml (detect, 2 classes)" and "instances per class:" in lines
    assert "errors: 5" in lines and "  - e2" in lines and "  - e3" not in lines
    assert "  ... and 2 more (see --json)" in lines and "warnings: 1" in lines
    assert lines[-1] == "FAILED: fix the errors above before training"
    assert report_with().render().splitlines()[-1] == "OK"


def test_a_classify_report_counts_images_only():
    text = report_with(task="classify").render()
    assert "images per class:" in text and "small" not in text and "no label" not in text


def test_scan_records_an_unreadable_image_and_remembers_the_hash_of_readable_ones(tmp_path):
    report, digests = report_with(), defaultdict(list)
    a, b = write_image(tmp_path / "a.jpg", 1), write_image(tmp_path / "b.png", 2)
    (tmp_path / "bad.jpg").write_bytes(b"nope")
    infos = [scan_image(p, report, digests) for p in (a, b, tmp_path / "bad.jpg")]
    assert infos[2] is None and report.errors == [f"{tmp_path / 'bad.jpg'}: not a readable image (unknown format "
                                                  "or corrupt header)"]
    assert sorted(digests.values()) == sorted([[str(a)], [str(b)]]) and infos[0].width == 64


def test_byte_identical_images_are_one_warning_per_group(tmp_path):
    report, digests = report_with(), defaultdict(list)
    first = write_image(tmp_path / "train" / "a.jpg", 1)
    copies = [tmp_path / "val" / "a.jpg", tmp_path / "train" / "c.jpg"]
    for copy in copies:
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(first.read_bytes())
    for path in (first, *copies, write_image(tmp_path / "train" / "d.jpg", 2)):
        scan_image(path, report, digests)
    add_duplicate_warnings(report, digests)
    assert report.warnings == [f"3 identical images: {first}, {copies[0]}, {copies[1]}"]


def test_ultralytics_verdict_keeps_a_good_image_and_drops_a_label_with_an_unknown_class(tmp_path):
    report, digests = report_with(), defaultdict(list)
    image = write_image(tmp_path / "a.jpg")
    (tmp_path / "ok.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    (tmp_path / "bad.txt").write_text("2 0.5 0.5 0.2 0.2\n")
    info = scan_image(image, report, digests)
    assert add_verdict(report, image, info) and add_verdict(report, image, info, tmp_path / "ok.txt")
    assert report.errors == [] and report.warnings == []
    assert not add_verdict(report, image, info, tmp_path / "bad.txt")
    (error,) = report.errors
    assert error.startswith(f"{image}: Ultralytics drops it from training (") and "2" in error


def test_a_jpeg_without_end_marker_is_kept_with_a_warning_and_never_rewritten(tmp_path):
    report, digests = report_with(), defaultdict(list)
    trailing, cut = write_image(tmp_path / "trailing.jpg"), write_image(tmp_path / "cut.jpg")
    trailing.write_bytes(trailing.read_bytes() + b"tail")  # decodable, but the file does not end with the marker
    cut.write_bytes(cut.read_bytes()[:-2])  # the marker cut off: Ultralytics' re-save finds the data truncated
    before = {p: p.read_bytes() for p in (trailing, cut)}
    infos = {p: scan_image(p, report, digests) for p in (trailing, cut)}
    assert all(info.jpeg_unterminated for info in infos.values())
    assert add_verdict(report, trailing, infos[trailing]) and not add_verdict(report, cut, infos[cut])
    assert report.warnings == [f"{trailing}: JPEG without end marker; Ultralytics will re-save it on first load"]
    (error,) = report.errors
    assert error.startswith(f"{cut}: Ultralytics drops it from training (image file is truncated (")
    assert {p: p.read_bytes() for p in (trailing, cut)} == before
