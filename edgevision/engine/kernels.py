"""Numba kernels of the CPU engine: site geometry (rule books) and one interpreter call per window.

:func:`run_program` executes a whole packed network in one compiled call: no Python runs between layers.
It first builds the geometry of every resolution once (sites, the [N, 9] neighbour table shared by all
submanifold layers of that resolution, the [M, 4] child table of each stride-2 step) with a dense index grid
(``scratch``, all -1 on entry and on exit). Then every conv is gather -> one BLAS GEMM -> finish in place
(bias, then clamp or requantize), depthwise convs and residual adds are vectorized loops over channels.

``mode`` 0 is the float network (float32). ``mode`` 1 is the integer network: int8 activations and weights held
exactly in float32 when every partial sum of a layer's GEMM stays below 2**24 (at most 1024 int8 products per
output), else in float64 (below 2**53), so the GEMM is exact in any summation order; bias, requantization and
residual adds run in int64 with the IR's rule: bit-exact with :mod:`edgevision.quant.reference`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# op codes and the columns of the packed op table
CONV3, DW3, DOWN2, PW, ADD, POOL, FC = range(7)
F_OP, F_IN0, F_IN1, F_OUT, F_LEVEL, F_CI, F_CO, F_W, F_B, F_M, F_M2, F_SHIFT, F_REQ, F_GH, F_GW = range(15)
N_FIELDS = 15

OK, ERR_RANGE, ERR_ORDER, ERR_OVERFLOW = range(4)


@njit(cache=True)
def _finish_rows(out, bias, mode, lo, hi, ilo, ihi, mult, shift):
    """In place on the [n, co] accumulators: add bias, then clamp (float) or requantize and clip (int)."""
    co = bias.shape[0]
    rnd = np.int64(1) << max(shift - 1, 0)
    for n in range(out.shape[0]):
        r = out[n]
        if mode == 0:
            for o in range(co):
                r[o] = min(max(r[o] + bias[o], lo), hi)
        else:
            for o in range(co):
                q = ((np.int64(r[o]) + np.int64(bias[o])) * mult[o] + rnd) >> shift
                r[o] = min(max(q, ilo), ihi)


@njit(cache=True)
def _gather_gemm(x, ci, table, toff, taps, n_out, weight, out):
    """``out = im2col(x) @ weight``: the active taps of every output site gathered into an
    [n_out, taps * ci] matrix (zeros for inactive taps), then one BLAS GEMM."""
    cols = np.empty((n_out, taps * ci), x.dtype)
    for n in range(n_out):
        dst = cols[n]
        for k in range(taps):
            j = table[toff + n * taps + k]
            seg = dst[k * ci: (k + 1) * ci]
            if j >= 0:
                src = x[j * ci: (j + 1) * ci]
                for i in range(ci):
                    seg[i] = src[i]
            else:
                for i in range(ci):
                    seg[i] = 0
    np.dot(cols, weight, out)


@njit(cache=True)
def _depthwise(x, c, table, toff, n_out, weight, out):
    """``out[n] = sum_k x[nbr[n, k]] * weight[k]`` over the active neighbours (per channel)."""
    for n in range(n_out):
        a = out[n]
        a[:] = 0
        for k in range(9):
            j = table[toff + n * 9 + k]
            if j < 0:
                continue
            row = x[j * c: (j + 1) * c]
            wr = weight[k]
            for o in range(c):
                a[o] += row[o] * wr[o]


@njit(cache=True)
def _build_geometry(coords, level_hw, need_nbr, scratch):
    """Sites of every level (flat ys/xs from ``start[l]``), neighbour and child tables; status code."""
    n0 = coords.shape[0]
    nlev = level_hw.shape[0]
    start = np.zeros(nlev + 1, np.int64)
    ys = np.empty(n0 * nlev, np.int64)
    xs = np.empty(n0 * nlev, np.int64)
    h0, w0 = level_hw[0, 0], level_hw[0, 1]
    prev = -1
    for n in range(n0):
        yy, xx = np.int64(coords[n, 0]), np.int64(coords[n, 1])
        if yy < 0 or xx < 0 or yy >= h0 or xx >= w0:
            return ERR_RANGE, start, ys, xs, ys, ys
        key = yy * w0 + xx
        if key <= prev:
            return ERR_ORDER, start, ys, xs, ys, ys
        prev = key
        ys[n] = yy
        xs[n] = xx
    start[1] = n0
    child = np.full(n0 * nlev * 4, -1, np.int64)
    for lv in range(1, nlev):  # stride-2 levels: mark parent cells, scan the coarse grid in raster order
        a, b = start[lv - 1], start[lv]
        oh, ow = level_hw[lv, 0], level_hw[lv, 1]
        for n in range(a, b):
            scratch[(ys[n] >> 1) * ow + (xs[n] >> 1)] = 0
        m = b
        for cell in range(oh * ow):
            if scratch[cell] == 0:
                scratch[cell] = m - b
                ys[m] = cell // ow
                xs[m] = cell % ow
                m += 1
        for n in range(a, b):
            p = scratch[(ys[n] >> 1) * ow + (xs[n] >> 1)]
            child[(b + p) * 4 + (ys[n] & 1) * 2 + (xs[n] & 1)] = n - a
        for n in range(b, m):
            scratch[ys[n] * ow + xs[n]] = -1
        start[lv + 1] = m
    nbr = np.full(start[nlev] * 9, -1, np.int64)
    for lv in range(nlev):
        if not need_nbr[lv]:
            continue
        h, w = level_hw[lv, 0], level_hw[lv, 1]
        a, b = start[lv], start[lv + 1]
        for n in range(a, b):
            scratch[ys[n] * w + xs[n]] = n - a
        for n in range(a, b):
            yy, xx = ys[n], xs[n]
            for dy in range(-1, 2):
                ny = yy + dy
                if ny < 0 or ny >= h:
                    continue
                for dx in range(-1, 2):
                    nx = xx + dx
                    if nx < 0 or nx >= w:
                        continue
                    nbr[n * 9 + (dy + 1) * 3 + dx + 1] = scratch[ny * w + nx]
        for n in range(a, b):
            scratch[ys[n] * w + xs[n]] = -1
    return OK, start, ys, xs, nbr, child


@njit(cache=True)
def run_program(coords, feats, ops, bounds, params, mults, act_level, act_size, level_hw, need_nbr, scratch,
                mode, out_act):
    """Run a packed network on one window -> (status, output activation as a flat array of params' dtype).

    ``scratch`` is an int32 grid of the largest level's size, all -1 (restored before returning).
    """
    status, start, ys, xs, nbr, child = _build_geometry(coords, level_hw, need_nbr, scratch)
    if status != OK:
        return status, np.zeros(0, params.dtype)
    n_act = act_level.shape[0]
    act_off = np.zeros(n_act + 1, np.int64)
    for a in range(n_act):
        lv = act_level[a]
        rows = 1 if lv < 0 else start[lv + 1] - start[lv]
        act_off[a + 1] = act_off[a] + rows * act_size[a]
    arena = np.empty(act_off[n_act], params.dtype)
    c0 = feats.shape[1]
    for n in range(feats.shape[0]):
        for c in range(c0):
            arena[n * c0 + c] = feats[n, c]
    widest = 1
    for a in range(n_act):
        widest = max(widest, act_size[a])
    sums_f = np.empty(widest, np.float64)
    sums_i = np.empty(widest, np.int64)
    for li in range(ops.shape[0]):
        op = ops[li, F_OP]
        lv = ops[li, F_LEVEL]
        ci, co = ops[li, F_CI], ops[li, F_CO]
        xo, yo = act_off[ops[li, F_IN0]], act_off[ops[li, F_OUT]]
        w_off, b_off, m_off, shift = ops[li, F_W], ops[li, F_B], ops[li, F_M], ops[li, F_SHIFT]
        lo, hi = bounds[li, 0], bounds[li, 1]
        ilo, ihi = np.int64(max(lo, -9.2e18)), np.int64(min(hi, 9.2e18))
        n_in = start[lv + 1] - start[lv] if lv >= 0 else 1
        x = arena[xo: act_off[ops[li, F_IN0] + 1]]
        if op <= PW:
            n_out = start[lv + 2] - start[lv + 1] if op == DOWN2 else n_in
            out = arena[yo: yo + n_out * co].reshape(n_out, co)
            if op == CONV3:
                w = params[w_off: w_off + 9 * ci * co].reshape(9 * ci, co)
                _gather_gemm(x, ci, nbr, start[lv] * 9, 9, n_in, w, out)
            elif op == DOWN2:
                w = params[w_off: w_off + 4 * ci * co].reshape(4 * ci, co)
                _gather_gemm(x, ci, child, start[lv + 1] * 4, 4, n_out, w, out)
            elif op == PW:
                np.dot(x.reshape(n_in, ci), params[w_off: w_off + ci * co].reshape(ci, co), out)
            else:
                _depthwise(x, ci, nbr, start[lv] * 9, n_in, params[w_off: w_off + 9 * ci].reshape(9, ci), out)
            _finish_rows(out, params[b_off: b_off + co], mode, lo, hi, ilo, ihi, mults[m_off: m_off + co], shift)
        elif op == ADD:
            x1 = act_off[ops[li, F_IN1]]
            m2 = ops[li, F_M2]
            rnd = np.int64(1) << max(shift - 1, 0)
            va = arena[xo: xo + n_in * ci]
            vb = arena[x1: x1 + n_in * ci]
            out = arena[yo: yo + n_in * ci]
            if mode == 0:
                for k in range(n_in * ci):
                    out[k] = min(max(va[k] + vb[k], lo), hi)
            else:
                ma = mults[m_off: m_off + ci]
                mb = mults[m2: m2 + ci]
                for n in range(n_in):
                    for c in range(ci):
                        k = n * ci + c
                        q = (np.int64(va[k]) * ma[c] + np.int64(vb[k]) * mb[c] + rnd) >> shift
                        out[k] = min(max(q, ilo), ihi)
        elif op == POOL:
            gh, gw = ops[li, F_GH], ops[li, F_GW]
            h, w = level_hw[lv, 0], level_hw[lv, 1]
            a = start[lv]
            cnt = np.zeros(gh * gw, np.int64)
            for k in range(gh * gw * ci):
                sums_f[k] = 0.0
                sums_i[k] = 0
            for n in range(n_in):
                g = (ys[a + n] * gh // h) * gw + xs[a + n] * gw // w
                cnt[g] += 1
                rb = xo + n * ci
                for c in range(ci):
                    if mode == 0:
                        sums_f[g * ci + c] += arena[rb + c]
                    else:
                        sums_i[g * ci + c] += np.int64(arena[rb + c])
            for g in range(gh * gw):
                for c in range(ci):
                    if cnt[g] == 0:
                        arena[yo + g * ci + c] = 0
                    elif mode == 0:
                        arena[yo + g * ci + c] = sums_f[g * ci + c] / cnt[g]
                    else:
                        den = cnt[g] << shift
                        q = (sums_i[g * ci + c] * mults[m_off + c] + (den >> 1)) // den
                        arena[yo + g * ci + c] = min(max(q, ilo), ihi)
        else:  # FC on a dense vector
            for o in range(co):
                sums_f[o] = params[b_off + o]
                sums_i[o] = np.int64(params[b_off + o])
            for i in range(ci):
                v = arena[xo + i]
                if v == 0:
                    continue
                wb = w_off + i * co
                for o in range(co):
                    if mode == 0:
                        sums_f[o] += v * params[wb + o]
                    else:
                        sums_i[o] += np.int64(v) * np.int64(params[wb + o])
            for o in range(co):
                if mode == 0:
                    arena[yo + o] = min(max(sums_f[o], lo), hi)
                elif ops[li, F_REQ]:
                    q = (sums_i[o] * mults[m_off + o] + (np.int64(1) << (shift - 1))) >> shift
                    arena[yo + o] = min(max(q, ilo), ihi)
                elif sums_i[o] < ilo or sums_i[o] > ihi:
                    return ERR_OVERFLOW, np.zeros(0, params.dtype)
                else:
                    arena[yo + o] = sums_i[o]
    lv = act_level[out_act]
    rows = 1 if lv < 0 else start[lv + 1] - start[lv]
    return OK, arena[act_off[out_act]: act_off[out_act] + rows * act_size[out_act]].copy()
