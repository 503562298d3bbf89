// Strided 2x2 sparse convolution (downsampling) and pointwise convolution over the sparse token stream.
#pragma once
#include "ev_mac.h"

namespace ev {

// Kernel 2, stride 2: input (y, x) adds W[:, y % 2, x % 2, :] @ f into output (y / 2, x / 2). One output row of
// accumulators is kept; when the input moves past rows 2Y, 2Y + 1 the row is emitted by merging the sorted active
// columns of the two input rows (raster order, duplicates once). Cost: ceil(CI/PI) x ceil(CO/PO) steps per input
// token, ceil(CO/PO) per output token, W/2 to reset the row tags per frame.
template <int ID, int H, int W, int CI, int CO, int PI, int PO>
void conv2x2s2(hls::stream<token_t<CI> >& in, hls::stream<token_t<CO> >& out, const q8_t (&w)[CO][2][2][CI],
               const acc_t bias[CO], const acc_t mult[CO], int shift, int lo, int hi) {
    constexpr int WO = (W + 1) / 2;
    static acc_t acc[WO][CO];
#pragma HLS ARRAY_PARTITION variable = acc cyclic factor = PO dim = 2
    static short tag[WO];  // output row whose sums acc[X] holds, -1 = none
    static ap_uint<16> cols[2][WO];  // active output columns contributed by the even / odd input row, in order
    int n[2] = {0, 0};
    for (int x = 0; x < WO; x++) {
#pragma HLS PIPELINE II = 1
        tag[x] = -1;
    }
    EV_COUNT(ID, WO);
    int Y = -1;
    for (;;) {
        token_t<CI> t = rd(in, "conv2x2s2");
        EV_COUNT(ID, 1);
        const int ty = t.end ? -2 : int(t.y) / 2;
        if (!t.end && (int(t.y) >= H || int(t.x) >= W || ty < Y)) fail("conv2x2s2", "token out of raster order or grid");
        if (ty != Y && Y >= 0) {  // emit output row Y: merge the two sorted column lists
            int i = 0, j = 0;
            while (i < n[0] || j < n[1]) {
                const int a = i < n[0] ? int(cols[0][i]) : WO, b = j < n[1] ? int(cols[1][j]) : WO;
                const int X = a < b ? a : b;
                if (a == X) i++;
                if (b == X) j++;
                token_t<CO> o;
                o.y = Y;
                o.x = X;
                o.end = false;
                EV_COUNT(ID, requant_token<CO, PO>(o, acc[X], mult, shift, lo, hi));
                out.write(o);
            }
            n[0] = n[1] = 0;
        }
        if (t.end) break;
        Y = ty;
        const int X = int(t.x) / 2, par = int(t.y) % 2;
        const bool first = tag[X] != Y;
        tag[X] = Y;
        if (n[par] == 0 || int(cols[par][n[par] - 1]) != X) cols[par][n[par]++] = X;
        EV_COUNT(ID, mac_lanes<CI, CO, PI, PO>(acc[X], w, par, int(t.x) % 2, t.f, bias, first));
    }
    out.write(end_token<CO>());
}

// Pointwise conv: per token ceil(CI/PI) x ceil(CO/PO) MAC steps + ceil(CO/PO) requantization steps.
template <int ID, int CI, int CO, int PI, int PO>
void conv1x1(hls::stream<token_t<CI> >& in, hls::stream<token_t<CO> >& out, const q8_t (&w)[CO][CI],
             const acc_t bias[CO], const acc_t mult[CO], int shift, int lo, int hi) {
    for (;;) {
        token_t<CI> t = rd(in, "conv1x1");
        EV_COUNT(ID, 1);
        if (t.end) break;
        acc_t acc[CO];
#pragma HLS ARRAY_PARTITION variable = acc cyclic factor = PO
        EV_COUNT(ID, mac_lanes<CI, CO, PI, PO>(acc, w, 0, 0, t.f, bias, true));
        token_t<CO> o;
        o.y = t.y;
        o.x = t.x;
        o.end = false;
        EV_COUNT(ID, requant_token<CO, PO>(o, acc, mult, shift, lo, hi));
        out.write(o);
    }
    out.write(end_token<CO>());
}

// Residual add of two streams with identical sites: clip((a*Ma + b*Mb + (1 << (S-1))) >> S), P lanes per step.
template <int ID, int C, int P>
void add(hls::stream<token_t<C> >& a, hls::stream<token_t<C> >& b, hls::stream<token_t<C> >& out,
         const acc_t ma[C], const acc_t mb[C], int shift, int lo, int hi) {
    for (;;) {
        token_t<C> ta = rd(a, "add(skip)");
        token_t<C> tb = rd(b, "add(main)");
        EV_COUNT(ID, 1);
        if (ta.end != tb.end || (!ta.end && (ta.y != tb.y || ta.x != tb.x))) fail("add", "the two inputs have different sites");
        if (ta.end) break;
        token_t<C> o;
        o.y = ta.y;
        o.x = ta.x;
        o.end = false;
        for (int cb = 0; cb < cdiv(C, P); cb++) {
#pragma HLS PIPELINE II = 1
            for (int p = 0; p < P; p++) {
#pragma HLS UNROLL
                const int c = cb * P + p;
                if (c < C) {
                    wide_t v = ta.f[c] * ma[c];  // 8 x 32 -> 40 bits
                    v += tb.f[c] * mb[c];
                    v += wide_t(1) << (shift - 1);
                    v >>= shift;
                    o.f[c] = clip8(v, lo, hi);
                }
            }
        }
        EV_COUNT(ID, cdiv(C, P));
        out.write(o);
    }
    out.write(end_token<C>());
}

}  // namespace ev
