"""Every Ultralytics internal roadtune touches, in one place, each with the version it was checked on.

Anything beyond the public ``from ultralytics import YOLO`` goes through here:

* :data:`REEXPORTS`: internals imported by name. They resolve lazily (``from pipeline.ultralytics_api import TQDM``
  inside a function imports Ultralytics then, not when this module is imported), because
  :func:`pipeline.bootstrap.bootstrap` must set ``ULTRALYTICS_SAFE_LOAD`` before Ultralytics' first import.
* constants and formulas copied from Ultralytics (optimizer names, default learning rates, the ``auto`` lr,
  the freeze-name rule): roadtune checks recipes against them before a trainer exists.
* :data:`CONTRACT`: behaviour relied on by code that stays where it is (trainer subclassing in ``pipeline.distill``,
  checkpoint order in ``pipeline.train.stages``...), named with the module that relies on it.

``tests/test_ultralytics_api.py`` probes every entry of all three and fails naming the touch and the version it
was checked on; the tested Ultralytics range in pyproject.toml is what those probes pass on.
"""

from __future__ import annotations

import importlib
from typing import Any

CHECKED_ON = "8.4.190"

# name -> (module, attribute). What each one is relied on for; all checked on 8.4.190.
REEXPORTS: dict[str, tuple[str, str]] = {
    # bootstrap: the settings object (telemetry off); importing it is Ultralytics' first import. checked on 8.4.190
    "SETTINGS": ("ultralytics.utils", "SETTINGS"),
    # progress bars of converters, checks, compare and video: Ultralytics' own TQDM (honours YOLO_VERBOSE). 8.4.190
    "TQDM": ("ultralytics.utils", "TQDM"),
    # resolve: the folder a relative dataset `path:` is taken under by check_det_dataset. checked on 8.4.190
    "DATASETS_DIR": ("ultralytics.utils", "DATASETS_DIR"),
    # recipe check: train argument names (DEFAULT_CFG_DICT) and the typed key sets get_cfg enforces. 8.4.190
    "DEFAULT_CFG_DICT": ("ultralytics.cfg", "DEFAULT_CFG_DICT"),
    "CFG_BOOL_KEYS": ("ultralytics.cfg", "CFG_BOOL_KEYS"),
    "CFG_FLOAT_KEYS": ("ultralytics.cfg", "CFG_FLOAT_KEYS"),
    "CFG_FRACTION_KEYS": ("ultralytics.cfg", "CFG_FRACTION_KEYS"),
    "CFG_INT_KEYS": ("ultralytics.cfg", "CFG_INT_KEYS"),
    # recipe check: get_cfg's per-key type and range rules (nbs >= 1, fractions in [0, 1], amp, ...), called one
    # key at a time so that every problem is listed. checked on 8.4.190
    "check_cfg": ("ultralytics.cfg", "check_cfg"),
    # augment preview: the train-time cfg and dataset builders, so the preview is what training sees. 8.4.190
    "get_cfg": ("ultralytics.cfg", "get_cfg"),
    "YOLODataset": ("ultralytics.data", "YOLODataset"),
    "build_yolo_dataset": ("ultralytics.data", "build_yolo_dataset"),
    "check_det_dataset": ("ultralytics.data.utils", "check_det_dataset"),
    "plot_images": ("ultralytics.utils.plotting", "plot_images"),
    # video overlay: Ultralytics' box/mask drawer. checked on 8.4.190
    "Annotator": ("ultralytics.utils.plotting", "Annotator"),
    # datasets: the images -> labels rule (last /images/ -> /labels/, suffix .txt) training uses. 8.4.190
    "img2label_paths": ("ultralytics.data.utils", "img2label_paths"),
    # datasets: the per-file checks training runs; tuples of 10 (label) and 4 (image) items. checked on 8.4.190
    "verify_image_label": ("ultralytics.data.utils", "verify_image_label"),
    "verify_image": ("ultralytics.data.utils", "verify_image"),
    # datasets: the image size Ultralytics sees (EXIF rotation applied). checked on 8.4.190
    "exif_size": ("ultralytics.data.utils", "exif_size"),
    # the suffixes Ultralytics treats as images / videos. checked on 8.4.190
    "IMG_FORMATS": ("ultralytics.data.utils", "IMG_FORMATS"),
    "VID_FORMATS": ("ultralytics.data.utils", "VID_FORMATS"),
    # datasets: BaseDataset.get_img_files, the lister training uses (called unbound). checked on 8.4.190
    "BaseDataset": ("ultralytics.data.base", "BaseDataset"),
    # datasets: the module whose _image_open replaces Image.open (pip-installs pillow-heif for .heic). 8.4.190
    "patches": ("ultralytics.utils", "patches"),
    # converters: Ultralytics' COCO converter and its polygon merge. checked on 8.4.190
    "convert_coco": ("ultralytics.data.converter", "convert_coco"),
    "merge_multi_segment": ("ultralytics.data.converter", "merge_multi_segment"),
    # checkpoints: torch_safe_load(path, safe_only=True) -> (ckpt, path), weights_only with its allow-list. 8.4.190
    "torch_safe_load": ("ultralytics.nn.tasks", "torch_safe_load"),
    # checkpoints/models: load_checkpoint(path, device) -> (model, ckpt): EMA first, task from train_args. 8.4.190
    "load_checkpoint": ("ultralytics.nn.tasks", "load_checkpoint"),
    # models: architecture YAML parsing, task guessing and the model classes built from a YAML. 8.4.190
    "yaml_model_load": ("ultralytics.nn.tasks", "yaml_model_load"),
    "guess_model_task": ("ultralytics.nn.tasks", "guess_model_task"),
    "ClassificationModel": ("ultralytics.nn.tasks", "ClassificationModel"),
    "DetectionModel": ("ultralytics.nn.tasks", "DetectionModel"),
    "SegmentationModel": ("ultralytics.nn.tasks", "SegmentationModel"),
    # distill: the trainers subclassed (distill.trainers) and the DDP/EMA unwrapper. checked on 8.4.190
    "DetectionTrainer": ("ultralytics.models.yolo.detect", "DetectionTrainer"),
    "SegmentationTrainer": ("ultralytics.models.yolo.segment", "SegmentationTrainer"),
    "ClassificationTrainer": ("ultralytics.models.yolo.classify", "ClassificationTrainer"),
    "unwrap_model": ("ultralytics.utils.torch_utils", "unwrap_model"),
    # video: device parsing and the requirement check (install=False) exporter/AutoBackend use. checked on 8.4.190
    "select_device": ("ultralytics.utils.torch_utils", "select_device"),
    "check_requirements": ("ultralytics.utils.checks", "check_requirements"),
    # evaluation: the AP Ultralytics computes (tests/evaluation checks roadtune's weighted AP against it). 8.4.190
    "ap_per_class": ("ultralytics.utils.metrics", "ap_per_class"),
    # teacher labels: the box filter Ultralytics smooths F1 curves with before picking a confidence. 8.4.190
    "smooth": ("ultralytics.utils.metrics", "smooth"),
    # benchmarks/export.py: Ultralytics' own export benchmark, the figure roadtune's latency is checked against. 8.4.190
    "benchmark": ("ultralytics.utils.benchmarks", "benchmark"),
    # video outputs: Ultralytics' numbered-path rule (name, name2, ...). checked on 8.4.190
    "increment_path": ("ultralytics.utils.files", "increment_path"),
}


def __getattr__(name: str) -> Any:
    """Resolve a re-export on first use (PEP 562), so importing this module imports no Ultralytics."""
    if name not in REEXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = REEXPORTS[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


# engine/trainer.py build_optimizer: the names it accepts; others raise NotImplementedError once it runs. 8.4.190
OPTIMIZERS = ("Adam", "Adamax", "AdamW", "NAdam", "RAdam", "RMSprop", "SGD", "MuSGD", "auto")
# cfg/default.yaml lr0 and warmup_bias_lr defaults. checked on 8.4.190
DEFAULT_LR0, DEFAULT_WARMUP_BIAS_LR = 0.01, 0.1
# results.csv (engine/trainer.py save_metrics, one row per finished epoch): the validation columns a search compares
# points by (pipeline.recipe.sweep.RungMetric -> column). checked on 8.4.190
EPOCH_METRICS = {"map50_95": "metrics/mAP50-95(B)", "map50": "metrics/mAP50(B)", "mask_map50_95": "metrics/mAP50-95(M)",
                 "mask_map50": "metrics/mAP50(M)", "top1": "metrics/accuracy_top1", "top5": "metrics/accuracy_top5"}
VAL_LOSS_PREFIX = "val/"  # results.csv's validation loss columns (label_loss_items(prefix="val")): val/box_loss, ...
# engine/trainer.py _setup_train: parameters whose name holds f"model.{i}." (frozen i) or ".dfl" freeze. 8.4.190
ALWAYS_FROZEN = (".dfl",)


def auto_lr_fit(nc: int) -> float:
    """The lr0 build_optimizer's ``auto`` picks (AdamW, short runs) for `nc` classes; checked on 8.4.190."""
    return round(0.002 * 5 / (4 + nc), 6)


# Behaviour relied on where it is used (name -> what, and where). Each is probed by the test; checked on 8.4.190.
CONTRACT: dict[str, str] = {
    "bootstrap.safe_load_env": "utils.SAFE_LOAD reads ULTRALYTICS_SAFE_LOAD once, at import (pipeline.bootstrap)",
    "checkpoints.safe_only": "torch_safe_load(safe_only=True) refuses a non-allow-listed global (pipeline.checkpoints)",
    "models.load_checkpoint_ema": "load_checkpoint takes ckpt['ema'] before ckpt['model'] (pipeline.checkpoints)",
    "models.task_from_train_args": "load_checkpoint sets model.task from train_args (pipeline.recipe.models)",
    "models.weights_dir": "attempt_download_asset finds named weights in SETTINGS['weights_dir'] (recipe.models)",
    "freeze.name_rule": "_setup_train freezes f'model.{i}.' names and '.dfl' (pipeline.recipe.freeze)",
    "schema.optimizers": "build_optimizer accepts exactly OPTIMIZERS (pipeline.recipe.schema)",
    "args.default_lr": "cfg/default.yaml lr0 / warmup_bias_lr are DEFAULT_LR0 / DEFAULT_WARMUP_BIAS_LR (train.args)",
    "args.auto_lr": "build_optimizer 'auto' uses auto_lr_fit's formula (pipeline.train.args)",
    "args.save_dir_rule": "get_save_dir puts a relative project under runs_dir/task (pipeline.train.args)",
    "stages.csv_before_last": "the epoch loop calls save_metrics before save_model (pipeline.train.stages)",
    "search.epoch_metrics": "save_metrics writes an `epoch` column, the EPOCH_METRICS columns of its task and the "
                            "validation losses under VAL_LOSS_PREFIX, one row per validated epoch (sweep.search)",
    "stages.final_epoch": "final_eval strips the last checkpoint; strip_optimizer sets epoch -1 (train.stages)",
    "stages.resume_save_dir": "check_resume keeps a save_dir override; get_save_dir prefers args.save_dir "
                              "(pipeline.train.stages: a moved run folder resumes where it is)",
    "stages.ddp_validator": "a DDP parent trains in a subprocess: its validator stays None (train.stages)",
    "metrics.confusion_orientation": "ConfusionMatrix.process_cls_preds fills matrix[pred][true] (train.metrics)",
    "augment.albumentations": "augmentations= reaches Albumentations; pixel-only lists skip boxes (datasets.augment)",
    "datasets.get_img_files": "BaseDataset.get_img_files(self, img_path) lists IMG_FORMATS files (datasets.images)",
    "datasets.image_open": "utils.patches has _image_open, the Image.open replacement (pipeline.datasets.images)",
    "datasets.img2label_last_images": "img2label_paths replaces only the last /images/ (pipeline.datasets.resolve)",
    "datasets.check_det_dataset_path": "check_det_dataset takes relative path: under DATASETS_DIR (datasets.resolve)",
    "datasets.verify_tuples": "verify_image_label returns 10 items, verify_image 4 (pipeline.datasets.check_report)",
    "distill.trainer_hooks": "set_model_attributes, build_optimizer, 3 callbacks (distill.trainers)",
    "distill.model_loss": "BaseModel.loss uses self.criterion, built by init_criterion (pipeline.distill)",
    "distill.head_outputs": "a training-mode Detect head returns a dict with boxes/scores/feats (distill.losses)",
    "distill.trainer_config": "a trainer is made from its class and train args alone; BaseTrainer.__init__ sets "
                              "save_dir, where it finds its stage config (pipeline.distill.trainers)",
    "distill.f1_curves": "DetMetrics.box has px (1000 confidences) and f1_curve rows in ap_class_index order "
                         "(pipeline.distill.teacher_labels)",
    "distill.train_imgsz": "YOLO(checkpoint).overrides['imgsz'] is the size it was trained at "
                           "(pipeline.distill.teacher_labels)",
    "probe.batch_loop": "_do_train: OOM halves batch_size in epoch 1, on_train_batch_end per batch, mosaic closes "
                        "at epochs - close_mosaic; device set before on_pretrain_routine_start (sweep.probe)",
    "video.export_requirements": "exporter checks the onnx/openvino packages of video.backend.REQUIREMENTS",
    "export.int8": "exporter: quantize=8/16 sets the precision; int8 calibrates on args.split, OpenVINO int8 checks "
                   "INT8_REQUIREMENTS (pipeline.export.artifact, export.setup)",
    "export.measured_keys": "Results.speed holds preprocess/inference/postprocess ms per image; val metrics' "
                            "results_dict holds measure.ACCURACY_KEYS (pipeline.export.measure)",
    "evaluation.update_stats": "DetMetrics/SegmentMetrics.update_stats(stat) is called once per val image with "
                               "tp (and tp_m), conf, pred_cls, target_cls and im_name; ClassificationValidator "
                               "keeps pred (top-5) and targets per batch (pipeline.evaluation.per_image)",
    "video.compile_model_keywords": "OpenVINOBackend keeps compile_model as a functools.partial (video.backend)",
}
