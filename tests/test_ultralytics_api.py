"""Each Ultralytics internal roadtune touches (pipeline.ultralytics_api) still behaves as it did when checked.

One probe per touch, cheap (source inspection or a tiny call, no training); a failure names the touch and the
Ultralytics version it was checked on, so an Ultralytics upgrade says exactly what to re-check.
"""

from __future__ import annotations

import inspect
import os
import pickle
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from pipeline import ultralytics_api as ua


def _source(obj: object) -> str:
    return inspect.getsource(obj)


def _before(text: str, first: str, second: str) -> bool:
    return first in text and second in text and text.index(first) < text.index(second)


def probe_safe_load_env(tmp_path: Path) -> None:
    code = "import ultralytics.utils as u; print(u.SAFE_LOAD)"
    env = {**os.environ, "ULTRALYTICS_SAFE_LOAD": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True", out


def probe_safe_only(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"model": nn.Linear(1, 1), "x": SimpleNamespace(a=1)}, path)  # SimpleNamespace: not allow-listed
    with pytest.raises(Exception) as err:  # noqa: PT011 - Ultralytics wraps torch's UnpicklingError in a TypeError
        ua.torch_safe_load(str(path), safe_only=True)
    causes, cause = [], err.value  # pipeline.checkpoints reads the refused global off the UnpicklingError
    while cause is not None:
        causes.append(cause)
        cause = cause.__cause__ or cause.__context__
    assert any(isinstance(c, pickle.UnpicklingError) and "GLOBAL types.SimpleNamespace" in str(c) for c in causes)
    good = tmp_path / "good.pt"
    torch.save({"model": nn.Linear(1, 1)}, good)
    ckpt, returned = ua.torch_safe_load(str(good), safe_only=True)
    assert isinstance(ckpt["model"], nn.Linear) and Path(returned) == good


def probe_load_checkpoint_ema(tmp_path: Path) -> None:
    path = tmp_path / "ema.pt"
    torch.save({"ema": nn.Sequential(nn.Linear(1, 2)), "model": nn.Sequential(nn.Linear(1, 3))}, path)
    model, ckpt = ua.load_checkpoint(str(path), device="cpu")
    assert model[0].out_features == 2 and "ema" in ckpt


def probe_task_from_train_args(tmp_path: Path) -> None:
    path = tmp_path / "task.pt"
    torch.save({"model": nn.Sequential(nn.Linear(1, 1)), "train_args": {"task": "segment"}}, path)
    assert ua.load_checkpoint(str(path), device="cpu")[0].task == "segment"
    torch.save({"model": nn.Sequential(nn.Linear(1, 1))}, path)
    assert ua.load_checkpoint(str(path), device="cpu")[0].task == "detect"  # the default without train_args


def probe_weights_dir(tmp_path: Path) -> None:
    from ultralytics.utils.downloads import attempt_download_asset

    assert "weights_dir" in ua.SETTINGS and Path(ua.SETTINGS["weights_dir"]).name
    assert 'SETTINGS["weights_dir"] / file' in _source(attempt_download_asset)  # a named weight is found there


def probe_freeze_rule(tmp_path: Path) -> None:
    from ultralytics.engine.trainer import BaseTrainer

    text = _source(BaseTrainer._setup_train)
    assert 'always_freeze_names = [".dfl"]' in text and 'f"model.{x}."' in text
    assert ua.ALWAYS_FROZEN == (".dfl",)


def probe_optimizers(tmp_path: Path) -> None:
    from ultralytics.engine.trainer import BaseTrainer

    text = _source(BaseTrainer.build_optimizer)
    names = set(eval(text.split("optimizers = ", 1)[1].splitlines()[0]))  # the set literal build_optimizer checks
    assert names == set(ua.OPTIMIZERS), names ^ set(ua.OPTIMIZERS)


def probe_default_lr(tmp_path: Path) -> None:
    cfg = ua.DEFAULT_CFG_DICT
    assert (cfg["lr0"], cfg["warmup_bias_lr"]) == (ua.DEFAULT_LR0, ua.DEFAULT_WARMUP_BIAS_LR)


def probe_auto_lr(tmp_path: Path) -> None:
    from ultralytics.engine.trainer import BaseTrainer

    text = _source(BaseTrainer.build_optimizer)
    assert "lr_fit = round(0.002 * 5 / (4 + nc), 6)" in text and '("AdamW", lr_fit, 0.9)' in text
    assert ua.auto_lr_fit(6) == 0.001


def probe_save_dir_rule(tmp_path: Path) -> None:
    from ultralytics.cfg import get_save_dir

    args = dict(name="s", task="detect", mode="train", exist_ok=True)
    relative = get_save_dir(SimpleNamespace(project="rel", **args))
    assert relative.parts[-3:] == ("detect", "rel", "s") and relative.parent.parent != Path.cwd() / "detect"
    absolute = get_save_dir(SimpleNamespace(project=str(tmp_path / "stages"), **args))
    assert absolute == (tmp_path / "stages" / "s").resolve()


def probe_csv_before_last(tmp_path: Path) -> None:
    from ultralytics.engine.trainer import BaseTrainer

    assert _before(_source(BaseTrainer._do_train), "self.save_metrics(", "self.save_model()")


def probe_epoch_metrics(tmp_path: Path) -> None:
    from ultralytics.engine.trainer import BaseTrainer
    from ultralytics.utils.metrics import ClassifyMetrics, DetMetrics, SegmentMetrics

    columns = {*DetMetrics().keys, *SegmentMetrics().keys, *ClassifyMetrics().keys}
    assert set(ua.EPOCH_METRICS.values()) <= columns, set(ua.EPOCH_METRICS.values()) - columns
    assert "(\"epoch\", \"time\", *keys)" in _source(BaseTrainer.save_metrics)
    from ultralytics.models.yolo.classify import ClassificationTrainer
    from ultralytics.models.yolo.detect import DetectionTrainer

    for trainer_class, names in ((DetectionTrainer, ["box_loss", "cls_loss", "dfl_loss"]),
                                 (ClassificationTrainer, ["loss"])):
        trainer = trainer_class.__new__(trainer_class)
        trainer.loss_names = names
        assert trainer.label_loss_items(prefix="val") == [f"{ua.VAL_LOSS_PREFIX}{n}" for n in names]


def probe_final_epoch(tmp_path: Path) -> None:
    from ultralytics.engine.trainer import BaseTrainer
    from ultralytics.utils.torch_utils import strip_optimizer

    assert "strip_optimizer(self.last)" in _source(BaseTrainer.final_eval)
    path = tmp_path / "last.pt"
    torch.save({"model": nn.Sequential(nn.Linear(1, 1)), "epoch": 3, "optimizer": {}}, path)
    strip_optimizer(path)
    assert ua.torch_safe_load(str(path), safe_only=True)[0]["epoch"] == -1


def probe_resume_save_dir(tmp_path: Path) -> None:
    from ultralytics.cfg import get_save_dir
    from ultralytics.engine.trainer import BaseTrainer

    source = _source(BaseTrainer.check_resume)
    assert '"save_dir"' in source.split("allowed =", 1)[1].split("}", 1)[0]  # an allowed resume override
    assert get_save_dir(SimpleNamespace(save_dir=str(tmp_path / "now"), project="old", name="x")) == tmp_path / "now"


def probe_ddp_validator(tmp_path: Path) -> None:
    from ultralytics.engine.trainer import BaseTrainer

    assert "self.validator = None" in _source(BaseTrainer.__init__)
    text = _source(BaseTrainer.train)  # the DDP parent runs a subprocess; only the else branch trains here
    assert _before(text, "if self.ddp:", "subprocess.run(cmd")
    assert _before(text, "subprocess.run(cmd", "self._do_train()")


def probe_confusion_orientation(tmp_path: Path) -> None:
    from ultralytics.utils.metrics import ConfusionMatrix

    matrix = ConfusionMatrix(names={0: "a", 1: "b"}, task="classify")
    matrix.process_cls_preds([torch.tensor([[1, 0]])], [torch.tensor([0])])  # predicted 1, true 0
    assert matrix.matrix[1][0] == 1 and matrix.matrix.sum() == 1


def probe_albumentations(tmp_path: Path) -> None:
    from ultralytics.cfg import check_dict_alignment
    from ultralytics.data.augment import Albumentations

    assert "self.contains_spatial = any(" in _source(Albumentations)  # pixel-only lists skip the box path
    assert "transforms" in inspect.signature(Albumentations).parameters
    assert '"augmentations"' in _source(check_dict_alignment)  # the train argument is accepted


def probe_get_img_files(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    for name in ("a.jpg", "b.png", "c.txt"):
        (tmp_path / "images" / name).write_bytes(b"")
    fake = SimpleNamespace(prefix="", fraction=1.0)  # the attributes get_img_files reads of its dataset
    files = ua.BaseDataset.get_img_files(fake, str(tmp_path / "images"))
    assert sorted(Path(f).name for f in files) == ["a.jpg", "b.png"]


def probe_image_open(tmp_path: Path) -> None:
    from PIL import Image

    assert callable(getattr(ua.patches, "_image_open", None)) and ua.patches._image_open is not Image.open


def probe_img2label(tmp_path: Path) -> None:
    sep = os.sep
    path = f"{sep}d{sep}images{sep}x{sep}images{sep}a.jpg"
    assert ua.img2label_paths([path]) == [f"{sep}d{sep}images{sep}x{sep}labels{sep}a.txt"]


def probe_check_det_dataset_path(tmp_path: Path) -> None:
    from ultralytics.data.utils import check_det_dataset

    text = _source(check_det_dataset)
    assert "path = (DATASETS_DIR / path).resolve()" in text and "not path.is_absolute()" in text


def probe_verify_tuples(tmp_path: Path) -> None:
    from PIL import Image

    image, label = tmp_path / "a.jpg", tmp_path / "a.txt"
    Image.new("RGB", (32, 32)).save(image)
    label.write_text("0 0.5 0.5 0.2 0.2\n")
    out = ua.verify_image_label((str(image), str(label), "", False, 1, 0, 0, False))
    assert len(out) == 10 and out[-2:] == (0, "") and out[1].shape == (1, 5)  # (..., corrupt count, message)
    assert ua.verify_image(((str(image), 0), ""))[2:] == (0, "")
    broken = tmp_path / "b.jpg"
    broken.write_bytes(b"not an image")
    *_, corrupt, msg = ua.verify_image(((str(broken), 0), ""))
    assert corrupt == 1 and "ignoring corrupt image/label: " in msg


def probe_trainer_hooks(tmp_path: Path) -> None:
    from ultralytics.engine.trainer import BaseTrainer

    for base in (ua.DetectionTrainer, ua.SegmentationTrainer, ua.ClassificationTrainer):
        assert issubclass(base, BaseTrainer) and all(hasattr(base, h) for h in ("set_model_attributes",
                                                                                "build_optimizer", "add_callback"))
    train = _source(BaseTrainer._setup_train) + _source(BaseTrainer._do_train) + _source(BaseTrainer.save_model)
    for event in ("on_pretrain_routine_end", "on_train_epoch_start", "on_model_save"):
        assert f'"{event}"' in train, event


def probe_model_loss(tmp_path: Path) -> None:
    from ultralytics.nn.tasks import BaseModel

    text = _source(BaseModel.loss)
    assert "self.criterion = self.init_criterion()" in text and "self.criterion(preds, batch)" in text


def probe_head_outputs(tmp_path: Path) -> None:
    model = ua.DetectionModel("yolov8n.yaml", nc=2, verbose=False).train()
    out = model(torch.zeros(1, 3, 64, 64))
    assert isinstance(out, dict) and {"boxes", "scores", "feats"} <= set(out), type(out)
    assert out["scores"].shape[:2] == (1, 2) and len(out["feats"]) == 3


def probe_trainer_config(tmp_path: Path) -> None:
    from ultralytics.engine.model import Model
    from ultralytics.engine.trainer import BaseTrainer

    assert "self.save_dir = get_save_dir(self.args)" in _source(BaseTrainer.__init__)
    assert "(overrides=args, _callbacks=self.callbacks)" in _source(Model.train)


def probe_f1_curves(tmp_path: Path) -> None:
    import numpy as np
    from ultralytics.utils.metrics import ap_per_class

    # two classes, three predictions: class 1's row comes second, in ap_class_index order, over 1000 confidences
    tp, conf = np.array([[True] * 10, [True] * 10, [False] * 10]), np.array([0.9, 0.8, 0.3])
    results = ap_per_class(tp, conf, np.array([0, 1, 1]), np.array([0, 1]))
    class_index, f1_curve, px = results[6], results[9], results[10]
    assert list(class_index) == [0, 1] and f1_curve.shape == (2, 1000) and len(px) == 1000


def probe_train_imgsz(tmp_path: Path) -> None:
    from ultralytics import YOLO

    from pipeline.recipe.models import build_model

    model = build_model("yolov8n.yaml", nc=2)
    path = tmp_path / "m.pt"
    torch.save({"model": model, "train_args": {"imgsz": 480, "task": "detect"}}, path)
    assert YOLO(str(path)).overrides["imgsz"] == 480


def probe_export_requirements(tmp_path: Path) -> None:
    from ultralytics.engine.exporter import Exporter

    from pipeline.video.backend import REQUIREMENTS

    text = _source(inspect.getmodule(Exporter))  # the export_* methods are wrapped by a decorator
    for need in REQUIREMENTS["onnx"][:1] + REQUIREMENTS["onnx"][2:] + REQUIREMENTS["openvino"]:
        assert need in text, need


def probe_export_int8(tmp_path: Path) -> None:
    from ultralytics.cfg import DEFAULT_CFG_DICT
    from ultralytics.engine.exporter import Exporter

    from pipeline.export.setup import INT8_REQUIREMENTS

    assert "quantize" in DEFAULT_CFG_DICT and "split" in DEFAULT_CFG_DICT
    assert 'split = self.args.split or "val"' in _source(Exporter.get_int8_calibration_dataloader)
    text = _source(inspect.getmodule(Exporter))
    assert all(need in text for need in INT8_REQUIREMENTS["openvino"]), INT8_REQUIREMENTS


def probe_measured_keys(tmp_path: Path) -> None:
    from ultralytics.engine.predictor import BasePredictor
    from ultralytics.utils.metrics import ClassifyMetrics, SegmentMetrics

    from pipeline.export.measure import ACCURACY_KEYS, STAGES

    assert set(ACCURACY_KEYS) <= set(SegmentMetrics().keys) | set(ClassifyMetrics().keys)
    assert all(f'"{stage}": profilers' in _source(BasePredictor.stream_inference) for stage in STAGES)


def probe_compile_model_keywords(tmp_path: Path) -> None:
    from ultralytics.nn.backends import openvino

    assert "self.compile_model = partial(core.compile_model" in _source(openvino)


def probe_batch_loop(tmp_path: Path) -> None:
    from ultralytics.engine.trainer import BaseTrainer
    from ultralytics.models.yolo.detect import DetectionTrainer

    loop = _source(BaseTrainer._do_train)
    assert _before(loop, "self.args.batch = self.batch_size = max(self.batch_size // 2, 1)",
                   'self.run_callbacks("on_train_batch_end")')
    assert "epoch >= self.epochs - self.args.close_mosaic" in loop
    assert _before(_source(BaseTrainer.__init__), "self.device = select_device(",
                   'self.run_callbacks("on_pretrain_routine_start")')
    assert 'drop_last=self.args.compile and mode == "train"' in _source(DetectionTrainer.get_dataloader)


def probe_update_stats(tmp_path: Path) -> None:
    from ultralytics.models.yolo.classify import ClassificationValidator
    from ultralytics.models.yolo.detect import DetectionValidator
    from ultralytics.models.yolo.segment import SegmentationValidator
    from ultralytics.utils.metrics import DetMetrics, SegmentMetrics

    for validator in (DetectionValidator, SegmentationValidator):
        text = _source(validator.update_metrics)
        assert "self.metrics.update_stats(" in text and '"im_name"' in text and '"target_cls": cls' in text
    assert {"tp", "conf", "pred_cls", "target_cls"} <= set(DetMetrics().stats)
    assert "tp_m" in SegmentMetrics().stats
    detect = _source(DetectionValidator._process_batch)
    assert '"tp"' in detect
    assert '"tp_m"' in _source(SegmentationValidator._process_batch)
    classify = _source(ClassificationValidator.update_metrics)
    assert "self.pred.append(" in classify and "self.targets.append(" in classify
    assert "self.pred = []" in _source(ClassificationValidator.init_metrics)


PROBES = {
    "evaluation.update_stats": probe_update_stats,
    "bootstrap.safe_load_env": probe_safe_load_env, "checkpoints.safe_only": probe_safe_only,
    "models.load_checkpoint_ema": probe_load_checkpoint_ema, "models.task_from_train_args": probe_task_from_train_args,
    "models.weights_dir": probe_weights_dir, "freeze.name_rule": probe_freeze_rule,
    "schema.optimizers": probe_optimizers, "args.default_lr": probe_default_lr, "args.auto_lr": probe_auto_lr,
    "args.save_dir_rule": probe_save_dir_rule, "stages.csv_before_last": probe_csv_before_last,
    "search.epoch_metrics": probe_epoch_metrics, "stages.final_epoch": probe_final_epoch,
    "stages.resume_save_dir": probe_resume_save_dir,
    "stages.ddp_validator": probe_ddp_validator,
    "metrics.confusion_orientation": probe_confusion_orientation, "augment.albumentations": probe_albumentations,
    "datasets.get_img_files": probe_get_img_files, "datasets.image_open": probe_image_open,
    "datasets.img2label_last_images": probe_img2label, "datasets.check_det_dataset_path": probe_check_det_dataset_path,
    "datasets.verify_tuples": probe_verify_tuples, "distill.trainer_hooks": probe_trainer_hooks,
    "distill.model_loss": probe_model_loss, "distill.head_outputs": probe_head_outputs,
    "distill.trainer_config": probe_trainer_config, "probe.batch_loop": probe_batch_loop,
    "distill.f1_curves": probe_f1_curves, "distill.train_imgsz": probe_train_imgsz,
    "video.export_requirements": probe_export_requirements,
    "video.compile_model_keywords": probe_compile_model_keywords,
    "export.int8": probe_export_int8, "export.measured_keys": probe_measured_keys,
}


def _fail(touch: str, what: str, exc: BaseException) -> None:
    import ultralytics

    pytest.fail(f"Ultralytics touch `{touch}` ({what}) checked on {ua.CHECKED_ON} no longer holds on Ultralytics "
                f"{ultralytics.__version__}: {type(exc).__name__}: {exc}", pytrace=False)


def test_every_contract_entry_has_a_probe():
    assert set(PROBES) == set(ua.CONTRACT), set(PROBES) ^ set(ua.CONTRACT)


@pytest.mark.parametrize("touch", sorted(ua.CONTRACT))
def test_contract(touch, tmp_path):
    try:
        PROBES[touch](tmp_path)
    except Exception as exc:  # an assertion or an Ultralytics API change (missing name, new signature)
        _fail(touch, ua.CONTRACT[touch], exc)


@pytest.mark.parametrize("name", sorted(ua.REEXPORTS))
def test_reexport_resolves(name):
    module, attribute = ua.REEXPORTS[name]
    try:
        assert getattr(ua, name) is not None
    except Exception as exc:  # moved or renamed in Ultralytics
        _fail(name, f"{module}.{attribute}", exc)


def test_import_is_lazy():
    code = "import sys, pipeline.ultralytics_api; print('ultralytics' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_no_ultralytics_internals_imported_elsewhere():
    root = Path(ua.__file__).parent
    offenders = [f"{p.relative_to(root)}:{n}" for p in root.rglob("*.py") if p.name != "ultralytics_api.py"
                 for n, line in enumerate(p.read_text().splitlines(), 1)
                 if line.lstrip().startswith(("from ultralytics.", "import ultralytics."))]
    assert offenders == [], f"import these through pipeline.ultralytics_api: {offenders}"
