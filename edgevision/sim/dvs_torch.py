"""Torch backend of the DVS emulator: the same pixel model as :class:`DVSEmulator`, vectorized over pixels with
torch so it runs on CUDA when present (CPU otherwise). Noise, the first frame and the region bookkeeping are
shared with the base class; only the per-pixel update and the event emission run in torch.
"""

from __future__ import annotations

import numpy as np
import torch

from edgevision.sim.dvs import DVSEmulator, DVSParams


class TorchDVSEmulator(DVSEmulator):
    """``DVSEmulator`` whose pixel state lives in torch tensors on ``device`` (default: CUDA when available)."""

    def __init__(self, params: DVSParams | None = None, device: str | torch.device | None = None) -> None:
        super().__init__(params)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        p = self.params
        shape = (p.height, p.width)
        dev = self.device
        self._t = {
            "thr_on": torch.from_numpy(self.thr_on).to(dev).view(shape),
            "thr_off": torch.from_numpy(self.thr_off).to(dev).view(shape),
            "leak": torch.from_numpy(self.leak_per_s).to(dev).view(shape),
            "last": torch.full(shape, -(1 << 60), dtype=torch.int64, device=dev),
        }
        self._t_luts = {k: torch.from_numpy(v).to(dev) for k, v in self._luts.items()}
        self._t_eps: dict[tuple[int, int], torch.Tensor] = {}

    def _on_reset(self) -> None:
        shape = (self.params.height, self.params.width)
        self._t["lp"] = torch.from_numpy(self.lp.copy()).to(self.device).view(shape)
        self._t["ref"] = torch.from_numpy(self.ref.copy()).to(self.device).view(shape)

    def reset(self) -> None:
        super().reset()
        self._t["last"].fill_(-(1 << 60))

    def _threshold_events(
        self, idx: np.ndarray, bits: int, box: tuple, inner: tuple, t_outer: int, t_us: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p, T, dev = self.params, self._t, self.device
        dt_us = t_us - self.t_us
        key = (bits, dt_us)
        if key not in self._t_eps:
            if len(self._t_eps) > 64:
                self._t_eps.clear()
            self._t_eps[key] = torch.from_numpy(self._eps(bits, dt_us)).to(dev)
        y0, y1, x0, x1 = box
        crop = np.ascontiguousarray(idx.reshape(p.height, p.width)[y0:y1, x0:x1])
        if crop.dtype != np.uint8:
            crop = crop.astype(np.int32)
        frame = torch.from_numpy(crop).to(dev, non_blocking=True).long()  # upload 1 byte per pixel, widen on device
        lut = self._t_luts[bits]
        sl = (slice(y0, y1), slice(x0, x1))
        lp, ref = T["lp"][sl], T["ref"][sl]  # views: updated in place
        thr_on, thr_off = T["thr_on"][sl], T["thr_off"][sl]
        prev = lp.clone()
        lp.add_(self._t_eps[key][frame] * (lut[frame] - prev))
        tp = torch.full(frame.shape, t_outer, dtype=torch.int64, device=dev)
        iy0, iy1, ix0, ix1 = (max(inner[0], y0), min(inner[1], y1), max(inner[2], x0), min(inner[3], x1))
        if iy1 > iy0 and ix1 > ix0:
            tp[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0] = self.t_us
        dt_s = ((t_us - tp).to(torch.float32) * 1e-6).to(torch.float32)
        ref.sub_(T["leak"][sl] * dt_s)
        d = lp - ref
        on = d >= thr_on
        off = ~on & (-d >= thr_off)
        k = torch.where(on, torch.floor(d / thr_on), torch.where(off, -torch.floor(-d / thr_off), torch.zeros_like(d)))
        ay, ax = torch.nonzero(k != 0, as_tuple=True)
        empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint8))
        if ay.numel() == 0:
            return empty
        kk = k[ay, ax].to(torch.int64)
        sign = torch.sign(kk)
        count = kk.abs()
        thr = torch.where(kk > 0, thr_on[ay, ax], thr_off[ay, ax]).double()
        r = ref[ay, ax].double()
        p0 = prev[ay, ax].double()
        span = lp[ay, ax].double() - p0
        t0 = tp[ay, ax]
        dti = t_us - t0
        j = torch.arange(1, int(count.max()) + 1, device=dev, dtype=torch.float64)
        level = r[:, None] + (sign[:, None] * j[None]) * thr[:, None]
        safe = torch.where(span == 0, torch.ones_like(span), span)
        f = torch.where(span[:, None] == 0, torch.ones_like(level), ((level - p0[:, None]) / safe[:, None]).clamp(0, 1))
        t = t0[:, None] + torch.minimum(torch.floor(f * dti[:, None] + 0.5).to(torch.int64), (dti - 1)[:, None])
        valid = j[None] <= count[:, None]
        gy, gx = ay + y0, ax + x0
        last = T["last"][gy, gx]
        if p.refractory_us <= 0:
            emit = valid
            last = torch.where(valid, t, torch.full_like(t, -(1 << 60))).amax(dim=1).maximum(last)
        else:
            emit = torch.zeros_like(valid)
            for c in range(j.shape[0]):  # crossing index (a handful), vectorized over pixels: refractory is sequential
                e = valid[:, c] & (t[:, c] - last >= p.refractory_us)
                emit[:, c] = e
                last = torch.where(e, t[:, c], last)
        T["last"][gy, gx] = last
        ref[ay, ax] = (r + (sign * count).double() * thr).to(torch.float32)
        rows, cols = torch.nonzero(emit, as_tuple=True)
        out = torch.stack([(gy * p.width + gx)[rows], t[rows, cols], (kk[rows] > 0).to(torch.int64)]).cpu().numpy()
        return out[0], out[1], out[2].astype(np.uint8)  # one device-to-host copy
