// edgevision HLS library: the internal sparse token-feature stream and shared helpers.
//
// Every sparse activation travels as ONE stream of token_t<C>: an active site (y, x) in raster order with its
// C int8 features, then one token with end = true closing the frame. Dense vectors (after pooling) travel as
// one vec_t<N> (int8) or lvec_t<N> (int32 logits). Requantization follows edgevision/ir/ops.py exactly.
//
// C simulation (g++ with Xilinx's open-source ap_types): modules count the pipelined loop iterations they run
// in ev::cycle_counters()[ID] (their cycles at II=1), and ev::rd() throws on a read from an empty stream instead of
// the header's warning, so a protocol bug fails the simulation.
#pragma once
#include <ap_int.h>
#include <hls_stream.h>
#include <stdint.h>
#ifndef __SYNTHESIS__
#include <stdexcept>
#include <string>
#endif

#if __has_include(<ap_axi_sdata.h>)
#include <ap_axi_sdata.h>
typedef ap_axiu<64, 0, 0, 0> ev_axis_t;  // Vitis: 64-bit TDATA with TKEEP/TSTRB/TLAST
#else
struct ev_axis_t {  // same member names as ap_axiu<64,0,0,0> for C simulation without Vitis
    ap_uint<64> data;
    ap_uint<8> keep;
    ap_uint<8> strb;
    ap_uint<1> last;
};
#endif

namespace ev {

typedef ap_int<8> q8_t;     // activations and weights
typedef ap_int<32> acc_t;   // accumulators, biases, multipliers
typedef ap_int<64> wide_t;  // requantization intermediate

template <int C>
struct token_t {
    ap_uint<16> y;
    ap_uint<16> x;
    bool end;
    q8_t f[C];
};

template <int N>
struct vec_t {
    static constexpr int LEN = N, BITS = 8;
    q8_t v[N];
};

template <int N>
struct lvec_t {
    static constexpr int LEN = N, BITS = 32;
    acc_t v[N];
};

#ifndef EV_MAX_MODULES
#define EV_MAX_MODULES 64
#endif

#ifndef __SYNTHESIS__
inline uint64_t* cycle_counters() {  // per-module pipelined iterations of the current run
    static uint64_t counters[EV_MAX_MODULES];
    return counters;
}
#define EV_COUNT(id, ...) (ev::cycle_counters()[(id)] += (uint64_t)(__VA_ARGS__))
#else
#define EV_COUNT(id, ...) ((void)(__VA_ARGS__))  // the counted expression still runs
#endif

// Blocking read that fails loudly in C simulation when the stream is empty (a dataflow protocol bug).
template <class T>
inline T rd(hls::stream<T>& s, const char* who) {
#ifndef __SYNTHESIS__
    if (s.empty()) throw std::runtime_error(std::string(who) + ": read while empty");
#endif
    return s.read();
}

inline void fail(const char* who, const char* what) {
#ifndef __SYNTHESIS__
    throw std::runtime_error(std::string(who) + ": " + what);
#endif
}

// clip((acc * m + (1 << (s - 1))) >> s, lo, hi) with a 64-bit intermediate and arithmetic shift (round half up).
// In-place updates keep every intermediate at 64 bits (ap_int would widen a + b to 65 bits).
inline q8_t clip8(wide_t v, int lo, int hi) {
#pragma HLS INLINE
    const long long x = v.to_int64();
    return x < lo ? q8_t(lo) : x > hi ? q8_t(hi) : q8_t(x);
}

inline q8_t requant(acc_t acc, acc_t m, int s, int lo, int hi) {
#pragma HLS INLINE
    wide_t v = (long long)acc.to_int() * (long long)m.to_int();  // 32 x 32 -> 64 bits
    v += wide_t(1) << (s - 1);
    v >>= s;
    return clip8(v, lo, hi);
}

constexpr int cdiv(int a, int b) { return (a + b - 1) / b; }

// Pass a sparse stream to two consumers (residual blocks); the skip consumer's FIFO depth is set by the top.
template <int ID, int C>
void fork(hls::stream<token_t<C> >& in, hls::stream<token_t<C> >& a, hls::stream<token_t<C> >& b) {
    for (;;) {
#pragma HLS PIPELINE II = 1
        token_t<C> t = rd(in, "fork");
        a.write(t);
        b.write(t);
        EV_COUNT(ID, 1);
        if (t.end) break;
    }
}

}  // namespace ev
