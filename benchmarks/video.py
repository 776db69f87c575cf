"""Video demo benchmark (issue 7): plain PyTorch loop vs our pipeline's backends, decode-only, inference-only."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CACHED_WEIGHTS = REPO / "runs" / "bench" / "yolov5nu_kitti.pt"


def bench_weights(epochs: int = 5, imgsz: int = 512) -> Path:
    """Return the benchmark model (COCO-initialised yolov5nu fine-tuned on kitti_mini), training it once."""
    if CACHED_WEIGHTS.is_file():
        return CACHED_WEIGHTS
    import torch
    from ultralytics import YOLO

    sd = torch.load(SHARED / "weights" / "yolov5n_coco_state_dict.pt", map_location="cpu", weights_only=True)
    sd = sd["state_dict"]

    def load_coco(trainer) -> None:
        # The trainer rebuilds the model from the yaml, so the COCO backbone and neck go in once it exists.
        for model in (trainer.model, trainer.ema.ema):
            model.load_state_dict(sd, strict=False)

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(shutil.copytree(SHARED / "data" / "kitti_mini", Path(tmp) / "kitti_mini"))
        model = YOLO("yolov5nu.yaml")
        model.add_callback("on_pretrain_routine_end", load_coco)
        model.train(data=str(data / "data.yaml"), epochs=epochs, imgsz=imgsz, batch=8, workers=0, device="cpu",
                    seed=0, project=str(Path(tmp) / "train"), name="bench", plots=False, verbose=False)
        CACHED_WEIGHTS.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path(model.trainer.best), CACHED_WEIGHTS)
    return CACHED_WEIGHTS


if __name__ == "__main__":
    from pipeline.bootstrap import bootstrap
    bootstrap(offline=True)
    print(bench_weights())
