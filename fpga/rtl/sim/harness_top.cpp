// Verilator harness for edgevision_top: the PYNQ driver's sequence over AXI-Lite + AXI4-Stream, per window:
// write num_tokens (0x10), write CTRL.ap_start, stream the words, collect the output until TLAST, poll CTRL until
// ap_done, read cycles (0x18). Same file formats as harness.cpp; the reported cycles are the register's value.
#include <cstdint>
#include <cstdio>
#include <vector>
#include "Vedgevision_top.h"
#include "verilated.h"

static Vedgevision_top* top;

static void tick() {
    top->ap_clk = 1;
    top->eval();
    top->ap_clk = 0;
    top->eval();
}

static void idle_bus() {
    top->s_axi_control_AWVALID = 0;
    top->s_axi_control_WVALID = 0;
    top->s_axi_control_ARVALID = 0;
    top->s_axi_control_BREADY = 1;
    top->s_axi_control_RREADY = 1;
}

static void axil_write(uint32_t addr, uint32_t data) {
    top->s_axi_control_AWADDR = addr;
    top->s_axi_control_AWVALID = 1;
    top->s_axi_control_WDATA = data;
    top->s_axi_control_WSTRB = 0xF;
    top->s_axi_control_WVALID = 1;
    bool aw = false, w = false;
    for (int i = 0; i < 100 && !(aw && w); i++) {
        top->eval();
        if (top->s_axi_control_AWREADY) aw = true;
        if (top->s_axi_control_WREADY) w = true;
        tick();
        if (aw) top->s_axi_control_AWVALID = 0;
        if (w) top->s_axi_control_WVALID = 0;
    }
    for (int i = 0; i < 100; i++) {
        top->eval();
        const bool b = top->s_axi_control_BVALID;
        tick();
        if (b) break;
    }
    idle_bus();
}

static uint32_t axil_read(uint32_t addr) {
    top->s_axi_control_ARADDR = addr;
    top->s_axi_control_ARVALID = 1;
    for (int i = 0; i < 100; i++) {
        top->eval();
        const bool a = top->s_axi_control_ARREADY;
        tick();
        if (a) break;
    }
    top->s_axi_control_ARVALID = 0;
    uint32_t v = 0;
    for (int i = 0; i < 100; i++) {
        top->eval();
        if (top->s_axi_control_RVALID) { v = top->s_axi_control_RDATA; tick(); break; }
        tick();
    }
    idle_bus();
    return v;
}

static bool rd(FILE* f, uint64_t& v) { return fread(&v, 8, 1, f) == 1; }

int main(int argc, char** argv) {
    Verilated::commandArgs(argc, argv);
    if (argc < 3) return 2;
    FILE* in = fopen(argv[1], "rb");
    FILE* out = fopen(argv[2], "wb");
    if (!in || !out) return 2;
    top = new Vedgevision_top;
    top->ap_rst_n = 0;
    top->axis_in_TVALID = 0;
    top->axis_out_TREADY = 1;
    top->axis_in_TKEEP = 0xFF;
    idle_bus();
    for (int i = 0; i < 4; i++) tick();
    top->ap_rst_n = 1;
    for (int i = 0; i < 64; i++) tick();
    uint64_t nwin = 0;
    if (!rd(in, nwin)) return 2;
    std::vector<uint64_t> words, res;
    for (uint64_t w = 0; w < nwin; w++) {
        uint64_t n = 0;
        if (!rd(in, n)) return 2;
        words.resize(n);
        if (n && fread(words.data(), 8, n, in) != n) return 2;
        axil_write(0x10, (uint32_t)((n - 1) / 2));
        axil_write(0x00, 1);
        res.clear();
        size_t k = 0;
        bool finished = false;
        for (uint64_t t = 0; !finished && t < 50000000ull; t++) {
            top->axis_in_TVALID = k < n;
            top->axis_in_TDATA = k < n ? words[k] : 0;
            top->axis_in_TLAST = k + 1 == n;
            top->eval();
            const bool ih = top->axis_in_TVALID && top->axis_in_TREADY;
            if (top->axis_out_TVALID && top->axis_out_TREADY) {
                res.push_back(top->axis_out_TDATA);
                if (top->axis_out_TLAST) finished = true;
            }
            tick();
            if (ih) k++;
        }
        top->axis_in_TVALID = 0;
        if (!finished) { fprintf(stderr, "window %llu: timeout\n", (unsigned long long)w); return 3; }
        uint32_t ctrl = 0;
        for (int i = 0; i < 100 && !(ctrl & 2); i++) ctrl = axil_read(0x00);
        if (!(ctrl & 2)) { fprintf(stderr, "window %llu: ap_done never set\n", (unsigned long long)w); return 3; }
        uint64_t cyc = axil_read(0x18), m = res.size();
        fwrite(&cyc, 8, 1, out);
        fwrite(&m, 8, 1, out);
        fwrite(res.data(), 8, m, out);
        for (int i = 0; i < 80; i++) tick();
    }
    fclose(out);
    top->final();
    delete top;
    return 0;
}
