// The one PI x PO multiply-accumulate kernel of the library and the per-token requantization, shared by the
// 3x3 (standard and depthwise), 2x2 stride-2, 1x1 and fully connected modules.
#pragma once
#include "ev_common.h"

namespace ev {

// Weight of output o, input c at tap (ky, kx) for each weight layout: w[o][c] (1x1, fc), w[o][ky][kx][c]
// (2x2 stride 2, 3x3).
template <int CO, int CI>
inline q8_t wsel(const q8_t (&w)[CO][CI], int, int, int o, int c) {
#pragma HLS INLINE
    return w[o][c];
}
template <int CO, int K, int CI>
inline q8_t wsel(const q8_t (&w)[CO][K][K][CI], int ky, int kx, int o, int c) {
#pragma HLS INLINE
    return w[o][ky][kx][c];
}

// PI x PO MAC lanes over one input feature vector f into acc[o] (tap ky, kx of w); first = true starts the sums
// from the bias, otherwise they add to acc. Returns the pipelined steps ceil(CI/PI) x ceil(CO/PO).
template <int CI, int CO, int PI, int PO, class WT>
int mac_lanes(acc_t acc[CO], const WT& w, int ky, int kx, const q8_t f[CI], const acc_t bias[CO], bool first) {
    for (int cb = 0; cb < cdiv(CI, PI); cb++) {
        for (int ob = 0; ob < cdiv(CO, PO); ob++) {
#pragma HLS PIPELINE II = 1
            for (int po = 0; po < PO; po++) {
#pragma HLS UNROLL
                const int o = ob * PO + po;
                if (o >= CO) continue;
                int sum = 0;
                for (int pi = 0; pi < PI; pi++) {
#pragma HLS UNROLL
                    const int c = cb * PI + pi;
                    if (c < CI) sum += int(wsel(w, ky, kx, o, c)) * int(f[c]);
                }
                acc[o] = (first && cb == 0 ? bias[o] : acc[o]) + sum;
            }
        }
    }
    return cdiv(CI, PI) * cdiv(CO, PO);
}

// Depthwise 3x3 weights w[c][ky][kx]: channel c only meets input channel c, so PO lanes of one MAC each
// (PI unused). Returns the pipelined steps ceil(C/PO).
template <int CI, int CO, int PI, int PO>
int mac_lanes(acc_t acc[CO], const q8_t (&w)[CO][3][3], int ky, int kx, const q8_t f[CI], const acc_t bias[CO],
              bool first) {
    static_assert(CI == CO, "depthwise: input and output channels must match");
    for (int cb = 0; cb < cdiv(CO, PO); cb++) {
#pragma HLS PIPELINE II = 1
        for (int p = 0; p < PO; p++) {
#pragma HLS UNROLL
            const int c = cb * PO + p;
            if (c < CO) acc[c] = (first ? bias[c] : acc[c]) + int(w[c][ky][kx]) * int(f[c]);
        }
    }
    return cdiv(CO, PO);
}

// Requantize CO accumulators into a token, PO lanes per step. Returns the steps.
template <int CO, int PO>
int requant_token(token_t<CO>& t, const acc_t acc[CO], const acc_t mult[CO], int shift, int lo, int hi) {
    for (int ob = 0; ob < cdiv(CO, PO); ob++) {
#pragma HLS PIPELINE II = 1
        for (int po = 0; po < PO; po++) {
#pragma HLS UNROLL
            const int o = ob * PO + po;
            if (o < CO) t.f[o] = requant(acc[o], mult[o], shift, lo, hi);
        }
    }
    return cdiv(CO, PO);
}

template <int CO>
token_t<CO> end_token() {
    token_t<CO> e;
    e.y = 0;
    e.x = 0;
    e.end = true;
    return e;
}

}  // namespace ev
