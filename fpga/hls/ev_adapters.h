// Adapters between the 64-bit AXI-Stream words of edgevision/ir/stream.py and the internal streams.
//
// Input: per token one header word (bits 0-15 x, 16-31 y, bit 63 = 0) then ceil(C/8) feature words (channel c is
// signed byte c % 8 of word c / 8); one end-of-frame word (bit 63 = 1, TLAST) closes the window.
// Output: the dense int8 vector 8 per word, or int32 logits 2 per word, TLAST on the last word.
#pragma once
#include "ev_common.h"

namespace ev {

template <int ID, int C>
void axis_to_tokens(hls::stream<ev_axis_t>& in, hls::stream<token_t<C> >& out) {
    for (;;) {
        const ev_axis_t h = rd(in, "input adapter");
        EV_COUNT(ID, 1);
        token_t<C> t;
        t.end = h.data[63] == 1;
        t.y = h.data.range(31, 16);
        t.x = h.data.range(15, 0);
        if (t.end) {
            out.write(t);
            break;
        }
        if (h.last) fail("input adapter", "TLAST on a token header; the window must end with the end-of-frame word");
        for (int k = 0; k < cdiv(C, 8); k++) {
#pragma HLS PIPELINE II = 1
            const ev_axis_t d = rd(in, "input adapter");
            for (int b = 0; b < 8; b++) {
#pragma HLS UNROLL
                if (k * 8 + b < C) t.f[k * 8 + b] = q8_t(d.data.range(8 * b + 7, 8 * b));
            }
        }
        EV_COUNT(ID, cdiv(C, 8));
        out.write(t);
    }
}

inline ev_axis_t axis_word(ap_uint<64> data, bool last) {
    ev_axis_t w;
    w.data = data;
    w.keep = -1;
    w.strb = -1;
    w.last = last;
    return w;
}

// Wait for the network's result and report the cycles since start in ``cycles`` (the AXI-Lite register).
// Hardware: the adapter starts with the dataflow region and polls its input, counting cycles until the result
// arrives. C simulation runs the stages one after another, so it reports the sum of all modules' counters
// (no overlap), which `edgevision csim` reports as latency_ms beside the modelled dataflow overlap.
template <int ID, class V>
V wait_result(hls::stream<V>& in, ap_uint<32>& cycles) {
#ifdef __SYNTHESIS__
    V v;
    ap_uint<32> n = 0;
    while (!in.read_nb(v)) {
#pragma HLS PIPELINE II = 1
        n++;
    }
    cycles = n;
    return v;
#else
    uint64_t total = 0;
    for (int i = 0; i < ID; i++) total += cycle_counters()[i];
    cycles = ap_uint<32>(total);
    return rd(in, "output adapter");
#endif
}

// The dense result V (vec_t: int8, 8 per word; lvec_t: int32, 2 per word) as AXI-Stream words, TLAST on the last.
template <int ID, class V>
void vec_to_axis(hls::stream<V>& in, hls::stream<ev_axis_t>& out, ap_uint<32>& cycles) {
    constexpr int N = V::LEN, B = V::BITS, PER = 64 / B;
    const V v = wait_result<ID>(in, cycles);
    for (int k = 0; k < cdiv(N, PER); k++) {
#pragma HLS PIPELINE II = 1
        ap_uint<64> d = 0;
        for (int b = 0; b < PER; b++) {
#pragma HLS UNROLL
            if (k * PER + b < N) d.range(B * b + B - 1, B * b) = ap_uint<B>(v.v[k * PER + b].range(B - 1, 0));
        }
        out.write(axis_word(d, k == cdiv(N, PER) - 1));
    }
    EV_COUNT(ID, cdiv(N, PER));
}

}  // namespace ev
