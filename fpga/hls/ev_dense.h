// Grid / global average pooling (sparse -> dense vector) and the fully connected layer.
#pragma once
#include "ev_mac.h"

namespace ev {

// floor(num / den) for den > 0 (C++ division truncates toward zero).
inline wide_t floor_div(wide_t num, wide_t den) {
#pragma HLS INLINE
    wide_t q = num / den;
    if (num % den != 0 && num < 0) q -= 1;
    return q;
}

// Average over the active sites of each cell of a GH x GW grid: site (y, x) -> cell (y*GH/H, x*GW/W);
// out[(cy*GW + cx)*C + c] = clip(floor((sum*M + ((n << S) >> 1)) / (n << S))), 0 for an empty cell.
// Cost: GH*GW to clear, ceil(C/P) steps per token, ceil(C/P) per cell to divide.
template <int ID, int H, int W, int C, int GH, int GW, int P>
void pool(hls::stream<token_t<C> >& in, hls::stream<vec_t<GH * GW * C> >& out, const acc_t mult[C], int shift,
          int lo, int hi) {
    static acc_t sums[GH * GW][C];
#pragma HLS ARRAY_PARTITION variable = sums cyclic factor = P dim = 2
    static int count[GH * GW];
    for (int k = 0; k < GH * GW; k++) {
#pragma HLS PIPELINE II = 1
        count[k] = 0;
        for (int c = 0; c < C; c++) sums[k][c] = 0;
    }
    EV_COUNT(ID, GH * GW);
    for (;;) {
        token_t<C> t = rd(in, "pool");
        EV_COUNT(ID, 1);
        if (t.end) break;
        if (int(t.y) >= H || int(t.x) >= W) fail("pool", "token outside the grid");
        const int k = (int(t.y) * GH / H) * GW + int(t.x) * GW / W;
        count[k]++;
        for (int cb = 0; cb < cdiv(C, P); cb++) {
#pragma HLS PIPELINE II = 1
            for (int p = 0; p < P; p++) {
#pragma HLS UNROLL
                const int c = cb * P + p;
                if (c < C) sums[k][c] += int(t.f[c]);
            }
        }
        EV_COUNT(ID, cdiv(C, P));
    }
    vec_t<GH * GW * C> v;
    for (int k = 0; k < GH * GW; k++) {
        const wide_t den = wide_t(count[k]) << shift;
        for (int cb = 0; cb < cdiv(C, P); cb++) {
#pragma HLS PIPELINE II = 1
            for (int p = 0; p < P; p++) {
#pragma HLS UNROLL
                const int c = cb * P + p;
                if (c >= C) continue;
                if (count[k] == 0) {
                    v.v[k * C + c] = 0;
                } else {
                    wide_t num = sums[k][c] * mult[c];  // 32 x 32 -> 64 bits
                    num += den >> 1;
                    v.v[k * C + c] = clip8(floor_div(num, den), lo, hi);
                }
            }
        }
        EV_COUNT(ID, cdiv(C, P));
    }
    out.write(v);
}

// Fully connected producing int32 logits (no requantization).
template <int ID, int CI, int CO, int PI, int PO>
void fc(hls::stream<vec_t<CI> >& in, hls::stream<lvec_t<CO> >& out, const q8_t (&w)[CO][CI], const acc_t bias[CO]) {
    const vec_t<CI> x = rd(in, "fc");
    lvec_t<CO> y;
    EV_COUNT(ID, mac_lanes<CI, CO, PI, PO>(y.v, w, 0, 0, x.v, bias, true));
    out.write(y);
}

// Fully connected with requantization to int8 (ceil(CO/PO) more steps).
template <int ID, int CI, int CO, int PI, int PO>
void fc_requant(hls::stream<vec_t<CI> >& in, hls::stream<vec_t<CO> >& out, const q8_t (&w)[CO][CI],
                const acc_t bias[CO], const acc_t mult[CO], int shift, int lo, int hi) {
    const vec_t<CI> x = rd(in, "fc");
    acc_t acc[CO];
    EV_COUNT(ID, mac_lanes<CI, CO, PI, PO>(acc, w, 0, 0, x.v, bias, true));
    vec_t<CO> y;
    for (int o = 0; o < CO; o++) y.v[o] = requant(acc[o], mult[o], shift, lo, hi);
    EV_COUNT(ID, cdiv(CO, PO));
    out.write(y);
}

}  // namespace ev
