"""(pipeline/datasets/source.py; tests/video/test_source.py holds the video clip's.) How a reader's pixel-space
objects become YOLO label rows: boxes clipped to the image or skipped with the reason, polygons for segment (a box's
corners where there is none), polygon bounds for detect, and the layout checks every reader shares."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.datasets.source import SkipObject, SourceObject, require_files, require_paths, require_task, yolo_values
from pipeline.errors import UserError

W, H = 200, 100


def test_a_box_inside_becomes_centre_and_size():
    values, clipped = yolo_values(SourceObject("car", box=(20, 10, 60, 50)), W, H, "detect")
    assert values == [0.2, 0.3, 0.2, 0.4] and clipped is False


def test_a_box_over_the_edge_is_clipped_and_flagged():
    values, clipped = yolo_values(SourceObject("car", box=(-20, 50, 40, 150)), W, H, "detect")
    assert values == [0.1, 0.75, 0.2, 0.5] and clipped is True


@pytest.mark.parametrize("box, reason", [((50, 10, 50, 40), "degenerate box (50, 10, 50, 40)"),
                                         ((60, 10, 20, 40), "degenerate box"),
                                         ((210, 10, 260, 40), "outside the 200x100 image (210, 10, 260, 40)"),
                                         ((10, -40, 50, 0), "outside the 200x100 image")])
def test_a_box_without_area_inside_the_image_is_skipped_with_the_reason(box, reason):
    with pytest.raises(SkipObject, match=reason.replace("(", r"\(").replace(")", r"\)")):
        yolo_values(SourceObject("car", box=box), W, H, "detect")


def test_detect_uses_a_polygons_bounds_when_there_is_no_box():
    polygon = np.array([[20, 10], [60, 30], [40, 50]])
    assert yolo_values(SourceObject("road", polygon=polygon), W, H, "detect") == ([0.2, 0.3, 0.2, 0.4], False)


def test_detect_prefers_the_box_over_the_polygon():
    obj = SourceObject("car", box=(0, 0, 100, 50), polygon=np.array([[20, 10], [60, 30], [40, 50]]))
    assert yolo_values(obj, W, H, "detect")[0] == [0.25, 0.25, 0.5, 0.5]


def test_segment_keeps_the_polygons_vertices_normalised():
    polygon = np.array([[20, 10], [60, 30], [40, 50]])
    assert yolo_values(SourceObject("road", polygon=polygon), W, H, "segment") == (
        [0.1, 0.1, 0.3, 0.3, 0.2, 0.5], False)


def test_segment_uses_a_boxs_corners_when_there_is_no_polygon():
    values, clipped = yolo_values(SourceObject("car", box=(20, 10, 60, 50)), W, H, "segment")
    assert values == [0.1, 0.1, 0.3, 0.1, 0.3, 0.5, 0.1, 0.5] and clipped is False


def test_a_polygon_over_the_edge_is_clipped_vertex_by_vertex():
    polygon = np.array([[-20, 10], [60, 10], [60, 150]])
    values, clipped = yolo_values(SourceObject("road", polygon=polygon), W, H, "segment")
    assert values == [0.0, 0.1, 0.3, 0.1, 0.3, 1.0] and clipped is True


@pytest.mark.parametrize("polygon, reason", [
    ([[10, 10], [50, 50]], "polygon with fewer than 3 points \\(2\\)"),
    ([[10, 10], [30, 30], [50, 50]], "zero-area polygon"),
    ([[210, 10], [260, 10], [260, 50]], "outside the 200x100 image"),
    ([[-30, 10], [-10, 10], [10, -30]], "^polygon outside the 200x100 image")])  # its bounds overlap the image
def test_a_polygon_without_area_inside_the_image_is_skipped_with_the_reason(polygon, reason):
    with pytest.raises(SkipObject, match=reason):
        yolo_values(SourceObject("road", polygon=np.array(polygon)), W, H, "segment")


@pytest.mark.parametrize("obj, kind", [
    (SourceObject("car", box=(50, 10, 50, 40)), "degenerate box"),
    (SourceObject("car", box=(210, 10, 260, 40)), "outside the image"),
    (SourceObject("road", polygon=np.array([[10, 10], [50, 50]])), "polygon with fewer than 3 points"),
    (SourceObject("road", polygon=np.array([[10, 10], [30, 30], [50, 50]])), "zero-area polygon"),
    (SourceObject("road", polygon=np.array([[-30, 10], [-10, 10], [10, -30]])), "polygon outside the image")])
def test_a_skip_names_its_kind_without_the_numbers(obj, kind):
    # the conversion report counts skips by kind: one line per kind, whatever the coordinates or image size
    with pytest.raises(SkipObject) as caught:
        yolo_values(obj, W, H, "segment" if obj.polygon is not None else "detect")
    assert caught.value.kind == kind


def test_layout_checks_name_what_is_missing(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "b.json").write_text("{}")
    (tmp_path / "labels" / "a.json").write_text("{}")
    require_paths("voc", tmp_path, [tmp_path / "images"])
    with pytest.raises(UserError, match=r"is not a voc layout: missing Annotations, JPEGImages$"):
        require_paths("voc", tmp_path, [tmp_path / "Annotations", tmp_path / "images", tmp_path / "JPEGImages"])
    assert [p.name for p in require_files("coco", tmp_path / "labels", "*.json")] == ["a.json", "b.json"]
    with pytest.raises(UserError, match=r"not a coco layout: .*images holds no \*.json files"):
        require_files("coco", tmp_path / "images", "*.json")
    require_task("kitti", "detect", ("detect",))
    with pytest.raises(UserError, match="kitti has no annotations for --task segment; supported: detect"):
        require_task("kitti", "segment", ("detect",))
