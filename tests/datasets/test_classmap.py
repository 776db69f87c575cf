"""Class maps: source labels to output class ids (exact match first, then case-insensitive; unlisted labels are
dropped), every problem of a map file listed at once, and the three `--classes` forms (road, all, a file)."""

from __future__ import annotations

import pytest
import yaml

from pipeline.datasets.classmap import CLASSMAP_DIR, ClassMap, read_classmap, resolve_classmap
from pipeline.errors import UserError


def write_map(tmp_path, content) -> object:
    path = tmp_path / "map.yaml"
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return path


def test_index_is_the_output_id_exact_first_then_case_insensitive_and_none_when_dropped():
    cmap = ClassMap(("car", "pedestrian"), {"Car": "car", "Van": "car", "Pedestrian": "pedestrian", "car": "car"})
    assert [cmap.index(label) for label in ("Car", "VAN", "van", "pedestrian", "Misc", "DontCare")] == [
        0, 0, 0, 1, None, None]
    exact = ClassMap(("a", "b"), {"Sign": "a", "SIGN": "b"})  # built directly: files refuse such a map
    assert (exact.index("Sign"), exact.index("SIGN"), exact.index("sign")) == (0, 1, 1)


def test_a_valid_file_reads_names_in_id_order_and_labels_as_text(tmp_path):
    cmap = read_classmap(write_map(tmp_path, "names: [car, person]\nmap: {Car: car, 7: person, Walker: person}\n"))
    assert cmap.names == ("car", "person") and cmap.mapping == {"Car": "car", "7": "person", "Walker": "person"}
    assert cmap.index("7") == 1


def test_every_problem_of_a_map_file_is_listed_at_once(tmp_path):
    path = write_map(tmp_path, {"names": ["car", "car", "bus"],
                                "map": {"Car": "car", "CAR": "bus", "Van": "lorry", "Bus": "bus"}})
    with pytest.raises(UserError, match="invalid class map") as raised:
        read_classmap(path)
    assert raised.value.problems == [
        "`names` repeats a class: ['car', 'car', 'bus']",
        "map: 'Van' -> 'lorry' is not in names",
        "map: 'car' differs from another source label only in case but maps elsewhere: ['bus', 'car']"]


@pytest.mark.parametrize("content, problems", [
    ("names: []\nmap: {}\n", ["`names` must be a non-empty list of class names",
                             "`map` must map source labels to entries of `names`"]),
    ("names: [car, 3]\nmap: {Car: car}\n", ["`names` must be a non-empty list of class names",
                                           "map: 'Car' -> 'car' is not in names"]),
    ("names: car\nmap: [Car]\n", ["`names` must be a non-empty list of class names",
                                 "`map` must map source labels to entries of `names`"])])
def test_names_and_map_of_the_wrong_shape(tmp_path, content, problems):
    with pytest.raises(UserError) as raised:
        read_classmap(write_map(tmp_path, content))
    assert raised.value.problems == problems


def test_a_file_that_is_not_a_mapping_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match=r"map.yaml: a mapping with `names` and `map` expected, not list"):
        read_classmap(write_map(tmp_path, "- car\n- van\n"))


@pytest.mark.parametrize("path", sorted(CLASSMAP_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_each_shipped_road_map_is_valid(path):
    cmap = resolve_classmap("road", path.stem, [], [])
    assert cmap.names and set(cmap.mapping.values()) <= set(cmap.names)


def test_road_maps_ship_for_every_format():
    assert sorted(p.stem for p in CLASSMAP_DIR.glob("*.yaml")) == [
        "bdd100k", "cityscapes", "coco", "gtsrb", "kitti", "voc"]
    assert resolve_classmap("road", "kitti", [], []).names == ("car", "pedestrian", "cyclist")


def test_all_keeps_the_known_classes_in_order_then_other_labels_sorted():
    cmap = resolve_classmap("all", "kitti", ["Car", "Van"], ["Zeppelin", "Van", "Bike", "Car"])
    assert cmap.names == ("Car", "Van", "Bike", "Zeppelin")
    assert [cmap.index(x) for x in ("Car", "bike", "Zeppelin")] == [0, 2, 3]


def test_a_yaml_spec_reads_that_file_and_anything_else_is_refused(tmp_path):
    path = write_map(tmp_path, "names: [car]\nmap: {Car: car}\n")
    assert resolve_classmap(str(path), "kitti", [], []).names == ("car",)
    with pytest.raises(UserError, match="--classes must be road, all or a .yaml class map file, got 'cars'"):
        resolve_classmap("cars", "kitti", [], [])
