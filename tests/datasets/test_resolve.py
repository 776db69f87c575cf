"""Dataset YAMLs and image-folder roots as roadtune reads them: names, the root split entries are relative to, the
split folders, label folders and images Ultralytics will read, readable class names, and whether the labels are
polygons. Small files written here; no training."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from pipeline.datasets.resolve import Dataset, dataset_root, has_segment_labels, resolve_dataset
from pipeline.errors import UserError


def image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 24)).save(path)
    return path


def dataset_yaml(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.yaml").write_text(text)
    return folder / "data.yaml"


def test_list_names_become_ids_and_the_yaml_folder_is_the_root_without_path(tmp_path):
    dataset = resolve_dataset(dataset_yaml(tmp_path / "d", "train: images/train\nval: images/val\nnames: [car, bus]\n"))
    assert dataset.names == {0: "car", 1: "bus"} and dataset.root == tmp_path / "d"
    assert dataset.yaml_path == tmp_path / "d" / "data.yaml" and not dataset.image_folder


def test_mapping_names_are_read_by_integer_id_and_path_is_the_root(tmp_path):
    path = dataset_yaml(tmp_path / "y", f"path: {tmp_path / 'data'}\ntrain: a\nval: b\nnames: {{'0': car, 2: bus}}\n")
    dataset = resolve_dataset(path)
    assert dataset.names == {0: "car", 2: "bus"} and dataset.root == tmp_path / "data"


def test_a_relative_path_is_against_the_working_directory_else_under_ultralytics_datasets_dir(tmp_path, monkeypatch):
    from pipeline.ultralytics_api import DATASETS_DIR

    monkeypatch.chdir(tmp_path)
    (tmp_path / "here").mkdir()
    assert dataset_root({"path": "here"}, tmp_path / "elsewhere" / "d.yaml") == tmp_path / "here"
    assert dataset_root({"path": "nowhere"}, tmp_path / "d.yaml") == (DATASETS_DIR / "nowhere").resolve()
    assert dataset_root({"path": ""}, tmp_path / "sub" / "d.yaml") == tmp_path / "sub"


@pytest.mark.parametrize("text", ["names: [a]\nval: v\n", "train: t\nval: v\n", "- train\n"])
def test_a_yaml_without_train_or_names_is_refused(tmp_path, text):
    with pytest.raises(UserError, match="needs at least `train`, `val` and `names` keys"):
        resolve_dataset(dataset_yaml(tmp_path, text))


def test_split_entries_resolve_against_the_root_a_missing_dotdot_entry_retried_inside(tmp_path):
    (tmp_path / "root" / "images" / "val").mkdir(parents=True)
    dataset = Dataset(tmp_path / "d.yaml", tmp_path / "root", {0: "a"},
                      {"train": ["images/train", "extra/more"], "val": "../images/val", "test": "../images/test"})
    assert dataset.split_dirs("train") == [tmp_path / "root/images/train", tmp_path / "root/extra/more"]
    assert dataset.split_dirs("val") == [tmp_path / "root/images/val"]  # ../images/val is missing: inside it is
    assert dataset.split_dirs("test") == [tmp_path / "root/images/test"]  # missing either way: inside, as Ultralytics
    assert dataset.split_dirs("absent") == [] and Dataset(tmp_path, tmp_path, {}, {"val": None}).split_dirs("val") == []


def test_label_folders_replace_the_last_images_part(tmp_path):
    dataset = Dataset(tmp_path / "d.yaml", tmp_path, {0: "a"},
                      {"train": ["images/train", "images/x/images/y"], "val": "val_images"})
    assert dataset.label_dirs("train") == [tmp_path / "labels/train", tmp_path / "images/x/labels/y"]
    assert dataset.label_dirs("val") == [tmp_path / "val_images"]  # no /images/ part: labels lie beside


def test_image_files_are_sorted_over_the_existing_entries(tmp_path):
    for name in ("images/b/2.jpg", "images/a/1.png", "images/a/sub/0.jpg"):
        image(tmp_path / name)
    (tmp_path / "images/a/notes.txt").write_text("x")
    dataset = Dataset(tmp_path / "d.yaml", tmp_path, {0: "a"}, {"train": ["images/b", "images/a", "images/gone"]})
    assert [p.relative_to(tmp_path).as_posix() for p in dataset.image_files("train")] == [
        "images/a/1.png", "images/a/sub/0.jpg", "images/b/2.jpg"]


def test_an_image_folder_root_has_its_sorted_class_folders_as_names(tmp_path):
    for cls in ("stop", "give_way", "limit_30"):
        image(tmp_path / "train" / cls / "a.jpg")
    (tmp_path / "train" / "readme.txt").write_text("x")
    (tmp_path / "valid").mkdir()
    dataset = resolve_dataset(tmp_path)
    assert dataset.names == {0: "give_way", 1: "limit_30", 2: "stop"} and dataset.image_folder
    assert dataset.config == {"train": "train", "val": "valid", "names": dataset.names}
    assert dataset.yaml_path == dataset.root == tmp_path


@pytest.mark.parametrize("classes, names", [
    ("names: [Give way, Speed limit 30]\n", {0: "Give way", 1: "Speed limit 30"}),
    ("names: {1: Limit, 0: Yield}\n", {0: "Yield", 1: "Limit"})])
def test_a_classes_file_gives_the_folders_readable_names(tmp_path, classes, names):
    for cls in ("00", "01"):
        image(tmp_path / "train" / cls / "a.jpg")
    (tmp_path / "classes.yaml").write_text(classes)
    assert resolve_dataset(tmp_path).names == names


@pytest.mark.parametrize("classes", ["names: [only one]\n", "names: {0: a, 2: c}\n", "- a\n- b\n", "names: 3\n"])
def test_a_classes_file_that_does_not_name_each_folder_is_refused(tmp_path, classes):
    for cls in ("00", "01"):
        image(tmp_path / "train" / cls / "a.jpg")
    (tmp_path / "classes.yaml").write_text(classes)
    with pytest.raises(UserError, match="`names` must give a name to each of the 2 class folders"):
        resolve_dataset(tmp_path)


def test_a_folder_without_train_class_folders_is_refused(tmp_path):
    image(tmp_path / "train" / "loose.jpg")
    with pytest.raises(UserError, match="needs train/<class>/ folders of images"):
        resolve_dataset(tmp_path)


@pytest.mark.parametrize("rows, segment", [("0 0.5 0.5 0.2 0.2\n", False),
                                           ("0 0.5 0.5 0.2 0.2\n0 0.1 0.1 0.4 0.1 0.4 0.4\n", True),
                                           ("", False)])
def test_segment_labels_are_rows_of_more_than_six_values(tmp_path, rows, segment):
    image(tmp_path / "images" / "train" / "a.jpg")
    (tmp_path / "labels" / "train").mkdir(parents=True)
    (tmp_path / "labels" / "train" / "a.txt").write_text(rows)
    dataset = Dataset(tmp_path / "d.yaml", tmp_path, {0: "a"}, {"train": "images/train"})
    assert has_segment_labels(dataset) is segment


SYNTH_SECTION = "roadtune_synth: {train: 2, val: 1, width: 64, height: 64, seed: 3}\n"


@pytest.mark.parametrize("names", ["[car, truck, pedestrian, traffic_sign]",  # one short
                                   "[truck, car, pedestrian, traffic_sign, traffic_light]",  # out of order
                                   "{0: car, 1: truck, 2: pedestrian, 3: traffic_sign, 5: traffic_light}"])
def test_a_synthetic_yaml_with_other_names_is_refused_before_anything_is_generated(tmp_path, monkeypatch, names):
    monkeypatch.setenv("ROADTUNE_CACHE", str(tmp_path / "cache"))
    path = dataset_yaml(tmp_path / "d", f"train: images/train\nval: images/val\nnames: {names}\n{SYNTH_SECTION}")
    with pytest.raises(UserError, match="names are fixed") as refused:
        resolve_dataset(path)
    assert not (tmp_path / "cache").exists()  # refused first: no synthetic set generated for nothing
    assert "copy them from datasets/synth-road.yaml" in str(refused.value)


def test_a_synthetic_yaml_with_wrong_names_exits_2_from_the_check_command_and_writes_nothing(tmp_path, monkeypatch,
                                                                                             capsys):
    from pipeline.datasets.__main__ import main

    monkeypatch.setenv("ROADTUNE_CACHE", str(tmp_path / "cache"))
    path = dataset_yaml(tmp_path / "d", f"train: images/train\nval: images/val\nnames: [car, bus]\n{SYNTH_SECTION}")
    assert main(["check", str(path)]) == 2
    assert "names are fixed" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists() and sorted(p.name for p in (tmp_path / "d").iterdir()) == ["data.yaml"]


def test_a_bad_synthetic_section_is_a_user_error_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("ROADTUNE_CACHE", str(tmp_path / "cache"))
    names = "[car, truck, pedestrian, traffic_sign, traffic_light]"
    path = dataset_yaml(tmp_path / "d", f"train: t\nval: v\nnames: {names}\nroadtune_synth: {{train: 0, heigth: 9}}\n")
    with pytest.raises(UserError, match=r"bad `roadtune_synth` section: train: .*heigth: Extra inputs"):
        resolve_dataset(path)
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("names", ["car", "{car: 0}", "7"])
def test_names_that_are_neither_a_list_nor_a_mapping_of_ids_are_refused(tmp_path, names):
    with pytest.raises(UserError, match="`names` must be a list of class names or a mapping of class id -> name"):
        resolve_dataset(dataset_yaml(tmp_path, f"train: t\nval: v\nnames: {names}\n"))
