"""The one explicit start-up step: offline mode and Ultralytics settings, before Ultralytics is imported.

Ultralytics reads its settings and probes the network when first imported, so every entry point calls
:func:`bootstrap` first; library code never does this at import time.
"""

from __future__ import annotations

import os
import socket

_DONE = False


def network_reachable(timeout_s: float = 1.0) -> bool:
    """Return True when a DNS lookup of a public host answers within ``timeout_s``."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)
    try:
        socket.getaddrinfo("one.one.one.one", 443)
        return True
    except OSError:
        return False
    finally:
        socket.setdefaulttimeout(previous)


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
    from ultralytics.utils import SETTINGS  # first Ultralytics import: happens here, on purpose

    # Telemetry and hub sync off; never prompt for integrations a run did not ask for.
    quiet = {"sync": False, "wandb": False, "mlflow": False, "comet": False, "clearml": False, "dvc": False,
             "raytune": False, "tensorboard": False, "vscode_msg": False, "openvino_msg": False}
    SETTINGS.update({k: v for k, v in quiet.items() if k in SETTINGS})
    _DONE = True
