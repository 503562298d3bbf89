"""Integer-only quantization: dyadic requantization, the NumPy integer reference, a bit-exact torch integer
path, the fake-quant (QAT) eye-tracker backbone, IR export, mixed precision and ONNX export."""
