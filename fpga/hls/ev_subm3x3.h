// Submanifold 3x3 convolution (standard and depthwise) over the sparse token stream.
//
// A line buffer keeps the active tokens of the last three rows (slot = row % 3, a row tag per column marks
// which row a stored feature belongs to, so no clearing is needed). Row q is emitted once row q + 1 is
// complete (a token of a later row, or the end of frame, arrived); each output site visits only its ACTIVE
// neighbours and iterates ceil(CI/PI) x ceil(CO/PO) pipelined steps per neighbour (depthwise: ceil(C/PO)),
// then ceil(CO/PO) steps to requantize and write. Output sites = input sites, raster order.
#pragma once
#include "ev_mac.h"

namespace ev {

// Emit output row q (all of its active sites) from the line buffer.
// Line buffer: f = features of the last three rows (slot = row % 3), tag = row stored at (slot, x) (-1 none),
// xs/n = active columns of each slot's row in order, row = row held by each slot (-1 none).
template <int ID, int H, int W, int CI, int CO, int PI, int PO, class WT>
void subm_emit_row(int q, q8_t f[3][W][CI], short tag[3][W], ap_uint<16> xs[3][W], const int n[3], const int row[3],
                   hls::stream<token_t<CO> >& out, const WT& w, const acc_t bias[CO], const acc_t mult[CO], int shift,
                   int lo, int hi) {
    const int s = q % 3;
    if (row[s] != q) return;
    for (int i = 0; i < n[s]; i++) {
        const int x = xs[s][i];
        acc_t acc[CO];
#pragma HLS ARRAY_PARTITION variable = acc cyclic factor = PO
        for (int o = 0; o < CO; o++) acc[o] = bias[o];
        for (int ky = 0; ky < 3; ky++) {
            const int yy = q + ky - 1;
            if (yy < 0 || yy >= H) continue;
            const int ss = yy % 3;
            for (int kx = 0; kx < 3; kx++) {
                const int xx = x + kx - 1;
                if (xx < 0 || xx >= W || tag[ss][xx] != yy) continue;  // inactive neighbour: skipped
                EV_COUNT(ID, mac_lanes<CI, CO, PI, PO>(acc, w, ky, kx, f[ss][xx], bias, false));
            }
        }
        token_t<CO> t;
        t.y = q;
        t.x = x;
        t.end = false;
        EV_COUNT(ID, requant_token<CO, PO>(t, acc, mult, shift, lo, hi));
        out.write(t);
    }
}

// LP = line-buffer lanes: the channels one MAC step reads from a neighbour (PI standard, PO depthwise); storing a
// token takes ceil(CI/LP) steps (the first overlaps its read).
template <int ID, int H, int W, int CI, int CO, int PI, int PO, int LP, class WT>
void subm3x3(hls::stream<token_t<CI> >& in, hls::stream<token_t<CO> >& out, const WT& w, const acc_t bias[CO],
             const acc_t mult[CO], int shift, int lo, int hi) {
    static q8_t f[3][W][CI];
#pragma HLS ARRAY_PARTITION variable = f cyclic factor = LP dim = 3
    static short tag[3][W];
#pragma HLS ARRAY_PARTITION variable = tag complete dim = 1
    static ap_uint<16> xs[3][W];
    int n[3] = {0, 0, 0}, row[3] = {-1, -1, -1};
    for (int x = 0; x < W; x++) {
#pragma HLS PIPELINE II = 1
        for (int s = 0; s < 3; s++) tag[s][x] = -1;
    }
    EV_COUNT(ID, W);
    int last = -1;  // row of the last stored token; rows < last - 1 have all been emitted
    for (;;) {
        token_t<CI> t = rd(in, "subm3x3");
        EV_COUNT(ID, 1);
        const int r = t.end ? H + 1 : int(t.y);
        if (!t.end && (r < last || r >= H || int(t.x) >= W)) fail("subm3x3", "token out of raster order or grid");
        if (r != last && last >= 0) {  // rows up to r - 2 now have their lower neighbour row complete
            for (int q = last - 1; q <= last && q <= r - 2; q++)
                if (q >= 0) subm_emit_row<ID, H, W, CI, CO, PI, PO>(q, f, tag, xs, n, row, out, w, bias, mult, shift, lo, hi);
        }
        if (t.end) break;
        const int s = r % 3;
        if (row[s] != r) {
            row[s] = r;
            n[s] = 0;
        }
        for (int cb = 0; cb < cdiv(CI, LP); cb++) {
#pragma HLS PIPELINE II = 1
            for (int p = 0; p < LP; p++) {
#pragma HLS UNROLL
                const int c = cb * LP + p;
                if (c < CI) f[s][t.x][c] = t.f[c];
            }
        }
        EV_COUNT(ID, cdiv(CI, LP) - 1);
        tag[s][t.x] = r;
        xs[s][n[s]++] = t.x;
        last = r;
    }
    out.write(end_token<CO>());
}

}  // namespace ev
