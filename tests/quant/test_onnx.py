import numpy as np

from edgevision.nn.inputs import collate_tokens
from edgevision.quant.onnx_export import check_onnx, export_model


def test_onnx_backbone_and_gru_head_match_pytorch(tmp_path, trained_like_model, eye_cfg, sim_windows):
    paths = export_model(trained_like_model, tmp_path, eye_cfg.input.grid(eye_cfg.sensor_size))
    assert all(p.is_file() for p in paths.values())
    x = collate_tokens(sim_windows[:12], eye_cfg.input.input_clip)
    errs = check_onnx(trained_like_model, paths, x)
    assert errs["feature_max_abs"] > 0.1  # real, non-trivial features
    assert errs["backbone_max_abs_err"] < 1e-4 * max(1.0, errs["feature_max_abs"])
    assert errs["head_max_abs_err"] < 1e-5
    assert np.isfinite(list(errs.values())).all()
