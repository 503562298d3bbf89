"""``edgevision bench classify-cv``: a cross-validation table from finished run folders ``<family>_f<K>`` (one per
model family and fold, trained with ``train classify --folds N --fold K``): recording accuracy mean +- SD over the
folds, plus params, operations, energy (NeuroBench definitions, :mod:`edgevision.recognition.accounting`) and CPU
latency of one window measured on the fold-0 model."""

from __future__ import annotations

import json
import platform
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgevision.atomic import write_text_atomic
from edgevision.errors import DatasetError
from edgevision.recognition.accounting import measure
from edgevision.recognition.bench import cpu_latency_ms
from edgevision.recognition.train import _read_log, load_run, run_source
from edgevision.recognition.windows import WindowConfig, WindowSet, make_batch

BEGIN, END = "<!-- bench:classify-cv:begin -->", "<!-- bench:classify-cv:end -->"
RUN_NAME = re.compile(r"^(?P<family>[a-z-]+)_f(?P<fold>\d+)$")


def _runs(root: Path) -> dict[str, dict[int, Path]]:
    found: dict[str, dict[int, Path]] = {}
    for d in sorted(root.iterdir()) if root.is_dir() else []:
        m = RUN_NAME.match(d.name)
        if m and (d / "eval.json").is_file() and (d / "model.safetensors").is_file():
            found.setdefault(m["family"], {})[int(m["fold"])] = d
    if not found:
        raise DatasetError(f"{root}: no finished <family>_f<K> run folders (train with `train classify --folds N --fold K`)")
    return found


def _settings(info: dict) -> str:
    cfg, tr, win = info["model_config"], info["train"], info["window"]
    if info["model"] == "esda":
        chans = [l.get("out") for l in cfg["layers"] if "out" in l]
        pool = next((l["grid"] for l in cfg["layers"] if l.get("op") == "pool"), [1, 1])
        model = f"x{cfg['downsample']} grid, {cfg['time_bins']} bins, {'-'.join(map(str, chans))} ch, pool {pool[0]}x{pool[1]}"
    elif info["model"] == "spikepoint":
        model = f"{cfg['num_points']} pts, {cfg['num_groups']}x{cfg['neighbours']} groups, T={cfg['timesteps']}, widths {'-'.join(map(str, cfg['widths']))}, {cfg.get('encoding', 'rate')} coding"
    elif info["model"] == "pointnet":
        model = f"{cfg['num_points']} pts, SA {cfg['groups'][0]}x{cfg['neighbours'][0]} / {cfg['groups'][1]}x{cfg['neighbours'][1]}"
        if cfg.get("time_scale", 1.0) != 1.0:
            model += f", time x{cfg['time_scale']:g}"
    else:
        model = f"{cfg['num_points']} pts, {cfg['num_groups']}x{cfg['neighbours']} groups, {cfg['features']} features"
    aug = f"shift {tr.get('shift_px', 0)} px, drop <= {tr.get('drop_events', 0.0):g}"
    return f"{model}; window {win['window_us'] / 1e3:g} ms; {aug}"


def summarize_cv(runs: str | Path, doc: str | Path | None = "docs/recognition.md", out: str | Path | None = None) -> dict[str, Any]:
    """Aggregate the fold runs under ``runs``; write ``out`` (default ``runs/cv.json``) and the table into ``doc``."""
    root = Path(runs)
    rows = []
    for family, folds in _runs(root).items():
        accs, waccs, secs, epochs = [], [], [], []
        for k in sorted(folds):
            ev = json.loads((folds[k] / "eval.json").read_text())
            accs.append(ev["recording_acc"])
            waccs.append(ev["window_acc"])
            log = _read_log(folds[k])
            secs.append(sum(r["seconds"] for r in log))
            epochs.append(len(log))
        first = folds[min(folds)]
        model, info, _ = load_run(first)
        src = run_source(info)
        test = WindowSet(src, src.indices("test"), WindowConfig(**info["window"]), progress=False)
        rng = np.random.default_rng(0)
        idx = np.arange(min(16, len(test)))
        torch.manual_seed(0)
        eff = measure(model, make_batch(test, idx, model.input_kind, model.cfg, rng), len(idx))
        latency = cpu_latency_ms(model, make_batch(test, idx[:1], model.input_kind, model.cfg, rng))
        rows.append(dict(
            model=family, settings=_settings(info), folds=len(accs), fold_ids=sorted(folds), epochs=int(np.median(epochs)),
            recording_acc=accs, recording_acc_mean=float(np.mean(accs)),
            recording_acc_std=float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0,
            window_acc_mean=float(np.mean(waccs)), train_s_per_fold=float(np.mean(secs)), latency_ms=latency,
            windows_per_recording=len(test) / max(1, len(src.indices("test"))),
            **eff.as_dict(),
        ))
    summary = {"runs": str(root), "data": info["data"], "cpu": platform.processor() or platform.machine(),
               "torch": torch.__version__, "rows": rows}
    out = Path(out) if out else root / "cv.json"
    write_text_atomic(out, json.dumps(summary, indent=1))
    if doc:
        _write_doc(Path(doc), summary)
    return {"cv_json": str(out), "doc": str(doc) if doc else None, "rows": rows}


def table(summary: dict[str, Any]) -> str:
    lines = [
        f"Data `{summary['data']}`; accuracy: per-recording, mean +- SD over the held-out folds (by recording). "
        f"Ops, energy and CPU latency: per window (a recording is the vote of `win/rec` windows), fold-0 model, "
        f"measured on 16 of its held-out windows; CPU latency: median forward of one window, one thread, torch {summary['torch']}.",
        "",
        "| model | settings | epochs | recording acc (folds) | window acc | win/rec | params | eff. MACs | eff. ACs (SOPs) | energy (uJ) | CPU latency (ms) | train s / fold |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summary["rows"]:
        lines.append(
            f"| {r['model']} | {r['settings']} | {r['epochs']} | {100 * r['recording_acc_mean']:.1f} +- "
            f"{100 * r['recording_acc_std']:.1f} % ({r['folds']}) | {100 * r['window_acc_mean']:.1f} % | "
            f"{r['windows_per_recording']:.1f} | {r['params'] / 1e3:.1f} k | {r['effective_macs'] / 1e6:.3f} M | "
            f"{r['effective_acs'] / 1e6:.3f} M | {r['energy_uj']:.2f} | {r['latency_ms']:.2f} | {r['train_s_per_fold']:.0f} |"
        )
    return "\n".join(lines)


def _write_doc(doc: Path, summary: dict[str, Any]) -> None:
    text = doc.read_text() if doc.is_file() else f"# Recognition\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip() + f"\n\n## Cross-validation (generated)\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    write_text_atomic(doc, f"{head}{BEGIN}\n{table(summary)}\n{END}{tail}")
