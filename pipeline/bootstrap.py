"""The one explicit start-up step: offline mode and Ultralytics settings, before Ultralytics is imported.

Ultralytics reads its settings and probes the network when first imported, so every entry point calls
:func:`bootstrap` first; library code never does this at import time.
"""

from __future__ import annotations

import os
import socket
import threading

_DONE = False


def network_reachable(timeout_s: float = 2.0) -> bool:
    """Return True when a DNS lookup of a public host answers within ``timeout_s`` (never hangs longer)."""
    result: list[bool] = []

    def lookup() -> None:
        try:
            socket.getaddrinfo("one.one.one.one", 443)
            result.append(True)
        except OSError:
            result.append(False)

    worker = threading.Thread(target=lookup, daemon=True)  # getaddrinfo ignores socket timeouts
    worker.start()
    worker.join(timeout_s)
    return bool(result and result[0])


def bootstrap(offline: bool | None = None) -> None:
    """Configure the environment once: offline mode, quiet Ultralytics settings, no telemetry.

    ``offline=None`` keeps ``YOLO_OFFLINE`` when set, and otherwise turns offline mode on when no network answers,
    so nothing later waits on a download that cannot happen.
    """
    global _DONE
    if _DONE:
        return
    if offline is None:
        offline = os.environ.get("YOLO_OFFLINE", "").lower() in {"1", "true", "yes"} or not network_reachable()
    if offline:
        os.environ["YOLO_OFFLINE"] = "1"
    os.environ.setdefault("YOLO_VERBOSE", "True")
    from pipeline.checkpoints import trust_pickles

    # Ultralytics 8.4.190 reads ULTRALYTICS_SAFE_LOAD once, at import: then every checkpoint it loads itself
    # (YOLO(path), its trainer, distill_model) is read with weights_only=True, and model yamls are parsed without eval.
    os.environ["ULTRALYTICS_SAFE_LOAD"] = "0" if trust_pickles() else "1"
    from pipeline.ultralytics_api import SETTINGS  # first Ultralytics import: happens here, on purpose

    # Telemetry and hub sync off; never prompt for integrations a run did not ask for.
    quiet = {"sync": False, "wandb": False, "mlflow": False, "comet": False, "clearml": False, "dvc": False,
             "raytune": False, "tensorboard": False, "vscode_msg": False, "openvino_msg": False}
    SETTINGS.update({k: v for k, v in quiet.items() if k in SETTINGS})
    _DONE = True
