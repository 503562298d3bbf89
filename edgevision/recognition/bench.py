"""``edgevision bench classify``: train the four classifiers briefly on one synthetic set and compare accuracy,
size, operations, energy and CPU latency; the table replaces the generated section of docs/recognition.md."""

from __future__ import annotations

import json
import platform
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgevision.atomic import write_text_atomic
from edgevision.recognition.accounting import measure
from edgevision.recognition.synth import synthesize
from edgevision.recognition.sources import open_source
from edgevision.recognition.train import TrainSettings, load_run, train_classifier
from edgevision.recognition.windows import WindowConfig, WindowSet, make_batch

BEGIN, END = "<!-- bench:classify:begin -->", "<!-- bench:classify:end -->"

# Quick settings: small configs so that the whole bench runs in minutes on one CPU core.
PLAN: dict[str, tuple[dict[str, Any], TrainSettings, str]] = {
    "esda": ({}, TrainSettings(epochs=15, lr=2e-3), "64x64 grid, 2 time bins, 16-24-32-64 ch"),
    "spikepoint": (
        {"num_points": 256, "num_groups": 64, "neighbours": 16, "timesteps": 8},
        TrainSettings(epochs=8, lr=2e-3),
        "small widths, 256 pts, 64x16 groups, T=8",
    ),
    "pointnet": ({}, TrainSettings(epochs=15, lr=2e-3), "512 pts, SA 128x16 / 32x16"),
    "random-features": ({}, TrainSettings(epochs=1), "512 pts, 64x16 groups, 512 random features"),
}


def cpu_latency_ms(model: torch.nn.Module, batch, repeats: int = 20) -> float:
    """Median forward time of one window on one thread (input construction excluded)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model.eval()
    try:
        with torch.no_grad():
            model(batch)
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                model(batch)
                times.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(threads)
    return float(np.median(times) * 1e3)


def run_bench(work: str | Path, doc: str | Path, data: str | None = None, recordings: int = 200) -> dict[str, Any]:
    """Generate (or reuse) a synthetic set, train each model, measure it, write ``bench.json`` and the doc table."""
    work = Path(work)
    if data is None:
        data = str(work / "synth")
        if not (Path(data) / "meta.json").is_file():
            synthesize(data, recordings, seed=0)
    src = open_source(data)
    rows = []
    for name, (overrides, settings, note) in PLAN.items():
        run = work / f"run-{name}"
        t0 = time.perf_counter()
        if (run / "run.json").exists():
            shutil.rmtree(run)  # a bench always trains afresh
        result = train_classifier(name, data, run, settings=settings, model_overrides=overrides, source=src)
        train_s = time.perf_counter() - t0
        model, info, _ = load_run(run)
        test = WindowSet(src, src.indices("test"), WindowConfig(**info["window"]), progress=False)
        rng = np.random.default_rng(0)
        idx = np.arange(min(16, len(test)))
        torch.manual_seed(0)
        eff = measure(model, make_batch(test, idx, model.input_kind, model.cfg, rng), len(idx))
        latency = cpu_latency_ms(model, make_batch(test, idx[:1], model.input_kind, model.cfg, rng))
        rows.append(
            dict(
                model=name,
                config=note,
                epochs=settings.epochs,
                window_acc=result["test_window_acc"],
                recording_acc=result["test_recording_acc"],
                train_s=train_s,
                latency_ms=latency,
                **eff.as_dict(),
            )
        )
    summary = {
        "data": data,
        "recordings": len(src),
        "test_recordings": int(src.split.sum()),
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "rows": rows,
    }
    write_text_atomic(work / "bench.json", json.dumps(summary, indent=1))
    _write_doc(Path(doc), summary)
    return {"bench_json": str(work / "bench.json"), "doc": str(doc), "rows": rows}


def table(summary: dict[str, Any]) -> str:
    """The markdown comparison table."""
    lines = [
        f"Synthetic gesture set: {summary['recordings']} recordings of 1 s, {summary['test_recordings']} held out "
        f"by subject; windows 0.5 s, step 0.25 s. CPU latency: one window, one thread, torch {summary['torch']}.",
        "",
        "| model | settings | epochs | window acc | recording acc | params | dense ops | eff. MACs | eff. ACs | act. sparsity | energy (uJ) | CPU latency (ms) | train (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summary["rows"]:
        lines.append(
            f"| {r['model']} | {r['config']} | {r['epochs']} | {r['window_acc']:.3f} | {r['recording_acc']:.3f} | "
            f"{r['params'] / 1e3:.1f} k | {r['dense_ops'] / 1e6:.2f} M | {r['effective_macs'] / 1e6:.3f} M | "
            f"{r['effective_acs'] / 1e6:.3f} M | {r['activation_sparsity']:.3f} | {r['energy_uj']:.2f} | "
            f"{r['latency_ms']:.2f} | {r['train_s']:.0f} |"
        )
    return "\n".join(lines)


def _write_doc(doc: Path, summary: dict[str, Any]) -> None:
    text = doc.read_text() if doc.is_file() else f"# Recognition\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip() + f"\n\n## Comparison (generated)\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    write_text_atomic(doc, f"{head}{BEGIN}\n{table(summary)}\n{END}{tail}")
