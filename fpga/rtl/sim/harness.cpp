// Verilator harness for edgevision_core: streams windows of 64-bit AXI4-Stream words (edgevision/ir/stream.py)
// into s_axis at one word per cycle (a DMA at full rate), keeps m_axis_tready high, and records per window the
// output words and the cycles from the first input word accepted to the TLAST output word (both inclusive).
// One window in flight at a time, as the host driver runs it.
// Usage: harness IN OUT  (IN: u64 n_windows, then per window u64 n_words + words; OUT: per window u64 cycles,
// u64 n_out, words). Exit code 3 on a timeout or when the design raises err.
#include <cstdint>
#include <cstdio>
#include <vector>
#include "Vedgevision_core.h"
#include "verilated.h"

static Vedgevision_core* top;
static uint64_t now = 0;

static void tick() {
    top->clk = 1;
    top->eval();
    top->clk = 0;
    top->eval();
    now++;
}

static bool rd(FILE* f, uint64_t& v) { return fread(&v, 8, 1, f) == 1; }

int main(int argc, char** argv) {
    Verilated::commandArgs(argc, argv);
    if (argc < 3) { fprintf(stderr, "usage: harness IN OUT\n"); return 2; }
    FILE* in = fopen(argv[1], "rb");
    FILE* out = fopen(argv[2], "wb");
    if (!in || !out) { fprintf(stderr, "cannot open files\n"); return 2; }
    const uint64_t timeout = argc > 3 ? strtoull(argv[3], nullptr, 10) : 50000000ull;
    top = new Vedgevision_core;
    top->clk = 0;
    top->rst = 1;
    top->s_axis_tvalid = 0;
    top->m_axis_tready = 1;
    top->eval();
    for (int i = 0; i < 4; i++) tick();
    top->rst = 0;
    for (int i = 0; i < 64; i++) tick();  // reset-time clears (pool cells)
    uint64_t nwin = 0;
    if (!rd(in, nwin)) return 2;
    std::vector<uint64_t> words, res;
    for (uint64_t w = 0; w < nwin; w++) {
        uint64_t n = 0;
        if (!rd(in, n)) return 2;
        words.resize(n);
        if (n && fread(words.data(), 8, n, in) != n) return 2;
        res.clear();
        size_t k = 0;
        int64_t first = -1;
        uint64_t start = now;
        bool finished = false;
        while (!finished) {
            top->s_axis_tvalid = k < n;
            top->s_axis_tdata = k < n ? words[k] : 0;
            top->s_axis_tlast = k + 1 == n;
            top->m_axis_tready = 1;
            top->eval();
            const bool in_hs = top->s_axis_tvalid && top->s_axis_tready;
            const bool out_hs = top->m_axis_tvalid && top->m_axis_tready;
            if (in_hs && first < 0) first = (int64_t)now;
            if (out_hs) {
                res.push_back(top->m_axis_tdata);
                if (top->m_axis_tlast) finished = true;
            }
            const uint64_t t = now;
            tick();
            if (in_hs) k++;
            if (top->err) { fprintf(stderr, "window %llu: design raised err\n", (unsigned long long)w); return 3; }
            if (finished) {
                uint64_t cyc = t - (uint64_t)first + 1, m = res.size();
                fwrite(&cyc, 8, 1, out);
                fwrite(&m, 8, 1, out);
                fwrite(res.data(), 8, m, out);
            }
            if (now - start > timeout) { fprintf(stderr, "window %llu: timeout after %llu cycles (%zu/%llu words in)\n",
                                                 (unsigned long long)w, (unsigned long long)(now - start), k,
                                                 (unsigned long long)n); return 3; }
        }
        if (k != n) { fprintf(stderr, "window %llu: output before all input was read\n", (unsigned long long)w); return 3; }
        for (int i = 0; i < 80; i++) tick();  // idle gap: modules return to their start states
    }
    fclose(out);
    top->final();
    delete top;
    return 0;
}
