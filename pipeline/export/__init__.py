"""The deployed answer: a run's final weights exported (ONNX, OpenVINO, TensorRT), with latency, size and accuracy
after export measured beside the PyTorch weights (``python -m pipeline.export``, or the recipe's ``export:``)."""
