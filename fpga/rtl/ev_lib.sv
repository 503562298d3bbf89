// edgevision RTL module library: the token-stream dataflow accelerator of fpga/hls/ written as synthesizable
// SystemVerilog (Verilator 5 and Yosys read it as is). edgevision/rtl/codegen.py instantiates these modules
// from the integer IR, one per layer, and writes the weight ROMs as $readmemh files.
//
// Internal stream: one token per beat, valid/ready handshake. A token of C channels is TW = 33 + 8*C bits:
//   [8*C-1:0]      int8 features, channel c in bits [8c+7:8c]
//   [8*C+15:8*C]   x
//   [8*C+31:8*C+16] y
//   [8*C+32]       end of frame (the last token of a window; its other fields are 0)
// Sites arrive in raster order. Arithmetic follows edgevision/ir/ops.py exactly (int32 accumulators, 64-bit
// requantization, round half up, arithmetic shift, clip).
//
// Each compute module is a small FSM around one pipelined MAC step per cycle: PI x PO lanes (depthwise,
// add, pool: PO lanes) read one weight ROM word (registered read, BRAM-inferable) per step.
`default_nettype none


// ---------------------------------------------------------------------------------------------------------
// Synchronous FIFO (first-word fall-through). DEPTH <= 2: two registers; deeper: a memory (BRAM/LUTRAM).
module ev_fifo #(parameter int W = 8, parameter int DEPTH = 2) (
    input  wire logic clk, input wire logic rst,
    input  wire logic in_v, output logic in_r, input wire logic [W-1:0] in_d,
    output logic out_v, input wire logic out_r, output logic [W-1:0] out_d);
  localparam int D = DEPTH < 2 ? 2 : DEPTH;
  localparam int AW = $clog2(D) < 1 ? 1 : $clog2(D);
  logic [W-1:0] mem [D];
  logic [AW-1:0] rp, wp;
  logic [AW:0] cnt;
  assign in_r = cnt < D;
  assign out_v = cnt != 0;
  assign out_d = mem[rp];
  wire push = in_v && in_r, pop = out_v && out_r;
  always_ff @(posedge clk) begin
    if (rst) begin
      rp <= '0; wp <= '0; cnt <= '0;
    end else begin
      if (push) begin
        mem[wp] <= in_d;
        wp <= (wp == D - 1) ? '0 : wp + 1'b1;
      end
      if (pop) rp <= (rp == D - 1) ? '0 : rp + 1'b1;
      cnt <= cnt + push - pop;
    end
  end
endmodule

// ---------------------------------------------------------------------------------------------------------
// Fork: one token stream to two consumers (residual blocks); a token leaves once both have taken it.
module ev_fork #(parameter int W = 8) (
    input  wire logic clk, input wire logic rst,
    input  wire logic in_v, output logic in_r, input wire logic [W-1:0] in_d,
    output logic a_v, input wire logic a_r, output logic [W-1:0] a_d,
    output logic b_v, input wire logic b_r, output logic [W-1:0] b_d);
  logic [W-1:0] d;
  logic pa, pb;  // copy still pending for a / b
  assign a_v = pa; assign b_v = pb; assign a_d = d; assign b_d = d;
  wire a_done = !pa || a_r, b_done = !pb || b_r;
  assign in_r = a_done && b_done;
  always_ff @(posedge clk) begin
    if (rst) begin
      pa <= 1'b0; pb <= 1'b0;
    end else if (in_r) begin
      pa <= in_v; pb <= in_v;
      if (in_v) d <= in_d;
    end else begin
      if (a_r) pa <= 1'b0;
      if (b_r) pb <= 1'b0;
    end
  end
endmodule

// ---------------------------------------------------------------------------------------------------------
// AXI4-Stream (64-bit words of edgevision/ir/stream.py) -> tokens: per token a header word (bits 0-15 x,
// 16-31 y, bit 63 = 0) then ceil(C/8) feature words; the end-of-frame word has bit 63 set. One word per cycle.
module ev_axis_in #(parameter int C = 4) (
    input  wire logic clk, input wire logic rst,
    input  wire logic s_tvalid, output logic s_tready, input wire logic [63:0] s_tdata, input wire logic s_tlast,
    output logic out_v, input wire logic out_r, output logic [33+8*C-1:0] out_d,
    output logic err);
  localparam int NFW = (C + 7) / 8;
  logic [8*NFW*8-1:0] f;
  logic [15:0] y, x;
  logic e;
  int k;  // feature words still to read in this token (0: expecting a header)
  logic full;
  assign s_tready = !full || out_r;
  assign out_v = full;
  assign out_d = {e, y, x, f[8*C-1:0]};
  always_ff @(posedge clk) begin
    if (rst) begin
      full <= 1'b0; k <= 0; err <= 1'b0;
    end else begin
      if (full && out_r) full <= 1'b0;
      if (s_tvalid && s_tready) begin
        if (k == 0) begin
          if (s_tdata[63]) begin
            e <= 1'b1; y <= '0; x <= '0; f <= '0; full <= 1'b1;
          end else begin
            e <= 1'b0; y <= s_tdata[31:16]; x <= s_tdata[15:0]; k <= NFW;
            if (s_tlast) err <= 1'b1;  // TLAST on a header: malformed window
          end
        end else begin
          f[(NFW - k) * 64 +: 64] <= s_tdata;
          k <= k - 1;
          if (k == 1) full <= 1'b1;
        end
      end
    end
  end
endmodule

// ---------------------------------------------------------------------------------------------------------
// Pointwise conv: per token ceil(CI/PI) x ceil(CO/PO) MAC steps, one drain cycle, ceil(CO/PO) requantization
// steps (PO lanes). ROM word (cb * NOB + ob): byte po*PI + pi = w[ob*PO + po][cb*PI + pi].
module ev_conv1x1 #(parameter int CI = 8, CO = 8, PI = 1, PO = 1, SHIFT = 16, LO = 0, HI = 127,
                    parameter WFILE = "", BFILE = "", MFILE = "") (
    input  wire logic clk, input wire logic rst,
    input  wire logic in_v, output logic in_r, input wire logic [33+8*CI-1:0] in_d,
    output logic out_v, input wire logic out_r, output logic [33+8*CO-1:0] out_d);
  `include "ev_func.svh"
  localparam int NCB = (CI + PI - 1) / PI, NOB = (CO + PO - 1) / PO, CIP = NCB * PI, COP = NOB * PO;
  localparam int NW = NCB * NOB;
  logic [8*PI*PO-1:0] rom [NW];
  logic signed [31:0] bias [COP], mult [COP];
  initial begin
    $readmemh(WFILE, rom);
    $readmemh(BFILE, bias);
    $readmemh(MFILE, mult);
  end
  typedef enum logic [2:0] {IDLE, MAC, REQ, OUT, ENDT} st_t;
  st_t st;
  logic [8*CIP-1:0] f;
  logic [15:0] y, x;
  logic signed [31:0] acc [COP];
  logic [8*COP-1:0] of;
  int cb, ob, rq;
  logic [8*PI*PO-1:0] wq;      // registered ROM word
  logic dv;                    // a MAC step's ROM word is valid this cycle
  int dcb, dob;
  assign in_r = st == IDLE;
  assign out_v = st == OUT || st == ENDT;
  assign out_d = st == ENDT ? {1'b1, 32'b0, {(8*CO){1'b0}}} : {1'b0, y, x, of[8*CO-1:0]};
  always_ff @(posedge clk) begin
    wq <= rom[cb * NOB + ob];
    if (rst) begin
      st <= IDLE; dv <= 1'b0;
    end else begin
      dv <= 1'b0;
      if (dv) begin
        for (int po = 0; po < PO; po++) begin
          logic signed [31:0] s;
          s = 0;
          for (int pi = 0; pi < PI; pi++)
            s += $signed(wq[8*(po*PI+pi) +: 8]) * $signed(f[8*(dcb*PI+pi) +: 8]);
          acc[dob*PO+po] <= acc[dob*PO+po] + s;
        end
      end
      case (st)
        IDLE: if (in_v) begin
          if (in_d[33+8*CI-1]) st <= ENDT;
          else begin
            f <= '0; f[8*CI-1:0] <= in_d[8*CI-1:0]; y <= in_d[8*CI+31:8*CI+16]; x <= in_d[8*CI+15:8*CI];
            for (int o = 0; o < COP; o++) acc[o] <= bias[o];
            cb <= 0; ob <= 0; st <= MAC;
          end
        end
        MAC: begin  // issue step (cb, ob): its ROM word arrives next cycle
          dv <= 1'b1; dcb <= cb; dob <= ob;
          if (ob == NOB - 1) begin
            ob <= 0;
            if (cb == NCB - 1) begin st <= REQ; rq <= -1; end
            else cb <= cb + 1;
          end else ob <= ob + 1;
        end
        REQ: begin  // rq = -1: drain the last MAC step
          if (rq >= 0)
            for (int po = 0; po < PO; po++) of[8*(rq*PO+po) +: 8] <= requant(acc[rq*PO+po], mult[rq*PO+po], SHIFT, LO, HI);
          if (rq == NOB - 1) st <= OUT;
          rq <= rq + 1;
        end
        OUT: if (out_r) begin st <= IDLE; cb <= 0; ob <= 0; end
        ENDT: if (out_r) st <= IDLE;
        default: st <= IDLE;
      endcase
    end
  end
endmodule

// ---------------------------------------------------------------------------------------------------------
// Submanifold 3x3 (DW = 0: standard, weights [CO][3][3][CI]; DW = 1: depthwise, [C][3][3]).
// Line buffer: the features of the last three rows (slot = row % 3) in one memory of 3*W words (registered
// read), an active bit per (slot, column) and the row each slot holds. Row q is emitted once a token of row
// q + 2 or later (or the end of frame) arrives; each output site visits only its active neighbours (a 9-bit
// mask, one neighbour after another) with NCB x NOB steps each (depthwise: NOB), then NOB requantization steps.
// ROM word ((k * NCB + cb) * NOB + ob), k = ky*3 + kx: standard byte po*PI+pi = w[ob*PO+po][ky][kx][cb*PI+pi];
// depthwise (NCB = 1, PI = 1) byte p = w[ob*PO+p][ky][kx].
module ev_subm3x3 #(parameter int H = 8, W = 8, CI = 8, CO = 8, PI = 1, PO = 1, DW = 0, SHIFT = 16, LO = 0,
                    HI = 127, parameter WFILE = "", BFILE = "", MFILE = "") (
    input  wire logic clk, input wire logic rst,
    input  wire logic in_v, output logic in_r, input wire logic [33+8*CI-1:0] in_d,
    output logic out_v, input wire logic out_r, output logic [33+8*CO-1:0] out_d);
  `include "ev_func.svh"
  localparam int PIE = DW ? 1 : PI;
  localparam int NCB = DW ? 1 : (CI + PI - 1) / PI, NOB = (CO + PO - 1) / PO;
  localparam int CIP = DW ? NOB * PO : NCB * PI, COP = NOB * PO;
  localparam int LANES = DW ? PO : PI * PO;
  localparam int NW = 9 * NCB * NOB;
  logic [8*LANES-1:0] rom [NW];
  logic signed [31:0] bias [COP], mult [COP];
  initial begin
    $readmemh(WFILE, rom);
    $readmemh(BFILE, bias);
    $readmemh(MFILE, mult);
  end
  logic [8*CIP-1:0] lb [3*W];
  logic [W-1:0] act [3];
  int row [3];
  typedef enum logic [3:0] {IDLE, EMIT_ROW, SITE, NBR, MAC, REQ, OUT, STORE, ENDT} st_t;
  st_t st;
  // held input token
  logic [8*CI-1:0] tf;
  int ty, tx;
  logic tend;
  int last;      // row of the last stored token (-1 none)
  int q, qend;   // rows being emitted
  int sx;        // current site column
  logic [W-1:0] pend;  // sites of row q not yet emitted
  logic [8:0] nm;      // active neighbours of the site still to visit
  int k, cb, ob, rq;
  logic signed [31:0] acc [COP];
  logic [8*COP-1:0] of;
  logic [8*LANES-1:0] wq;
  logic [8*CIP-1:0] fq;
  logic dv;
  int dcb, dob;
  int raddr;
  assign in_r = st == IDLE;
  assign out_v = st == OUT || st == ENDT;
  assign out_d = st == ENDT ? {1'b1, 32'b0, {(8*CO){1'b0}}} : {1'b0, 16'(q), 16'(sx), of[8*CO-1:0]};

  // row % 3 and the tap offsets by table / case: no dividers in the netlist
  logic [1:0] m3 [H + 2];
  initial for (int i = 0; i < H + 2; i++) m3[i] = i % 3;
  function automatic int slot(input int r);
    slot = (r < 0 || r > H + 1) ? 0 : m3[r];
  endfunction
  function automatic int kdy(input int kk);
    case (kk) 0, 1, 2: kdy = -1; 3, 4, 5: kdy = 0; default: kdy = 1; endcase
  endfunction
  function automatic int kdx(input int kk);
    case (kk) 0, 3, 6: kdx = -1; 1, 4, 7: kdx = 0; default: kdx = 1; endcase
  endfunction
  function automatic logic active(input int yy, input int xx);
    if (yy < 0 || yy >= H || xx < 0 || xx >= W) active = 1'b0;
    else active = row[slot(yy)] == yy && act[slot(yy)][xx];
  endfunction
  function automatic int lowest(input logic [W-1:0] m);
    lowest = 0;
    for (int i = W - 1; i >= 0; i--) if (m[i]) lowest = i;
  endfunction
  function automatic int low9(input logic [8:0] m);
    low9 = 0;
    for (int i = 8; i >= 0; i--) if (m[i]) low9 = i;
  endfunction

  always_ff @(posedge clk) begin
    wq <= rom[((k * NCB) + cb) * NOB + ob];
    fq <= lb[raddr];
    if (rst) begin
      st <= IDLE; dv <= 1'b0; last <= -1;
      for (int s = 0; s < 3; s++) begin row[s] <= -1; act[s] <= '0; end
    end else begin
      dv <= 1'b0;
      if (dv) begin
        for (int po = 0; po < PO; po++) begin
          logic signed [31:0] s;
          s = 0;
          if (DW) s = $signed(wq[8*po +: 8]) * $signed(fq[8*(dob*PO+po) +: 8]);
          else for (int pi = 0; pi < PIE; pi++)
            s += $signed(wq[8*(po*PIE+pi) +: 8]) * $signed(fq[8*(dcb*PIE+pi) +: 8]);
          acc[dob*PO+po] <= acc[dob*PO+po] + s;
        end
      end
      case (st)
        IDLE: if (in_v) begin
          tend <= in_d[33+8*CI-1];
          tf <= in_d[8*CI-1:0];
          ty <= in_d[8*CI+31:8*CI+16];
          tx <= in_d[8*CI+15:8*CI];
          begin
            int r;
            r = in_d[33+8*CI-1] ? H + 1 : in_d[8*CI+31:8*CI+16];
            // rows last-1 .. min(last, r-2) are complete with their lower neighbour row
            if (r != last && last >= 0 && (last - 1 < 0 ? 0 : last - 1) <= (last < r - 2 ? last : r - 2)) begin
              q <= last - 1 < 0 ? 0 : last - 1;
              qend <= last < r - 2 ? last : r - 2;
              st <= EMIT_ROW;
            end else st <= in_d[33+8*CI-1] ? ENDT : STORE;
          end
        end
        EMIT_ROW: begin  // start row q (if its slot holds it)
          if (row[slot(q)] == q && act[slot(q)] != 0) begin
            pend <= act[slot(q)];
            st <= SITE;
          end else if (q == qend) st <= tend ? ENDT : STORE;
          else q <= q + 1;
        end
        SITE: begin
          if (pend == 0) begin
            if (q == qend) st <= tend ? ENDT : STORE;
            else begin q <= q + 1; st <= EMIT_ROW; end
          end else begin
            int xs;
            xs = lowest(pend);
            sx <= xs;
            pend[xs] <= 1'b0;
            for (int kk = 0; kk < 9; kk++) nm[kk] <= active(q + kk / 3 - 1, xs + kk % 3 - 1);
            for (int o = 0; o < COP; o++) acc[o] <= bias[o];
            st <= NBR;
          end
        end
        NBR: begin  // next active neighbour
          if (nm == 0) begin st <= REQ; rq <= -1; end
          else begin
            int kk;
            kk = low9(nm);
            k <= kk; nm[kk] <= 1'b0; cb <= 0; ob <= 0;
            raddr <= slot(q + kdy(kk)) * W + sx + kdx(kk);
            st <= MAC;
          end
        end
        MAC: begin  // issue step (k, cb, ob); the ROM word and neighbour features arrive next cycle
          dv <= 1'b1; dcb <= cb; dob <= ob;
          if (ob == NOB - 1) begin
            ob <= 0;
            if (cb == NCB - 1) begin
              // next neighbour directly (saves a cycle): same logic as NBR
              if (nm == 0) begin st <= REQ; rq <= -1; end
              else begin
                int kk;
                kk = low9(nm);
                k <= kk; nm[kk] <= 1'b0; cb <= 0;
                raddr <= slot(q + kdy(kk)) * W + sx + kdx(kk);
              end
            end else cb <= cb + 1;
          end else ob <= ob + 1;
        end
        REQ: begin
          if (rq >= 0)
            for (int po = 0; po < PO; po++) of[8*(rq*PO+po) +: 8] <= requant(acc[rq*PO+po], mult[rq*PO+po], SHIFT, LO, HI);
          if (rq == NOB - 1) st <= OUT;
          rq <= rq + 1;
        end
        OUT: if (out_r) st <= SITE;
        STORE: begin  // write the held token into the line buffer
          int s;
          s = slot(ty);
          if (row[s] != ty) begin
            row[s] <= ty;
            act[s] <= '0;
            act[s][tx] <= 1'b1;
          end else act[s][tx] <= 1'b1;
          lb[s * W + tx] <= {{(8*CIP-8*CI){1'b0}}, tf};
          last <= ty;
          st <= IDLE;
        end
        ENDT: if (out_r) begin
          st <= IDLE; last <= -1;
          for (int s = 0; s < 3; s++) begin row[s] <= -1; act[s] <= '0; end
        end
        default: st <= IDLE;
      endcase
    end
  end
endmodule

// ---------------------------------------------------------------------------------------------------------
// Kernel 2, stride 2: input (y, x) adds W[:, y%2, x%2, :] @ f into output column X = x/2 of the current output
// row Y = y/2. Accumulators of one output row live in a memory of WO words (CO x 32 bits, registered read);
// an active bit per column marks which hold a sum. When a token of a later output row (or the end) arrives,
// row Y is emitted in column order. Per input token: 1 read + NCB x NOB MAC steps + 1 drain + 1 write.
// ROM word ((tap * NCB + cb) * NOB + ob), tap = (y%2)*2 + x%2.
module ev_conv2x2s2 #(parameter int H = 8, W = 8, CI = 8, CO = 8, PI = 1, PO = 1, SHIFT = 16, LO = 0, HI = 127,
                      parameter WFILE = "", BFILE = "", MFILE = "") (
    input  wire logic clk, input wire logic rst,
    input  wire logic in_v, output logic in_r, input wire logic [33+8*CI-1:0] in_d,
    output logic out_v, input wire logic out_r, output logic [33+8*CO-1:0] out_d);
  `include "ev_func.svh"
  localparam int WO = (W + 1) / 2;
  localparam int NCB = (CI + PI - 1) / PI, NOB = (CO + PO - 1) / PO, CIP = NCB * PI, COP = NOB * PO;
  localparam int NW = 4 * NCB * NOB;
  logic [8*PI*PO-1:0] rom [NW];
  logic signed [31:0] bias [COP], mult [COP];
  initial begin
    $readmemh(WFILE, rom);
    $readmemh(BFILE, bias);
    $readmemh(MFILE, mult);
  end
  logic [32*COP-1:0] am [WO];   // accumulator row memory
  logic [32*COP-1:0] aq;        // registered read
  logic [WO-1:0] act;
  int Y;                        // current output row (-1 none)
  typedef enum logic [3:0] {IDLE, EMIT, ELOAD, EREQ, OUT, LWAIT, LOAD, MAC, DRAIN, WB, ENDT} st_t;
  st_t st;
  logic [8*CIP-1:0] f;
  int ty, tx, tap, X;
  logic tend;
  int ex;                       // column being emitted
  logic [WO-1:0] pend;
  int cb, ob, rq, raddr;
  logic signed [31:0] acc [COP];
  logic [8*COP-1:0] of;
  logic [8*PI*PO-1:0] wq;
  logic dv;
  int dcb, dob;
  logic [32*COP-1:0] accv;
  always_comb for (int o = 0; o < COP; o++) accv[32*o +: 32] = acc[o];
  assign in_r = st == IDLE;
  assign out_v = st == OUT || st == ENDT;
  assign out_d = st == ENDT ? {1'b1, 32'b0, {(8*CO){1'b0}}} : {1'b0, 16'(Y), 16'(ex), of[8*CO-1:0]};
  function automatic int lowest(input logic [WO-1:0] m);
    lowest = 0;
    for (int i = WO - 1; i >= 0; i--) if (m[i]) lowest = i;
  endfunction
  always_ff @(posedge clk) begin
    wq <= rom[((tap * NCB) + cb) * NOB + ob];
    aq <= am[raddr];
    if (rst) begin
      st <= IDLE; dv <= 1'b0; Y <= -1; act <= '0;
    end else begin
      dv <= 1'b0;
      if (dv) begin
        for (int po = 0; po < PO; po++) begin
          logic signed [31:0] s;
          s = 0;
          for (int pi = 0; pi < PI; pi++)
            s += $signed(wq[8*(po*PI+pi) +: 8]) * $signed(f[8*(dcb*PI+pi) +: 8]);
          acc[dob*PO+po] <= acc[dob*PO+po] + s;
        end
      end
      case (st)
        IDLE: if (in_v) begin
          int r;
          tend <= in_d[33+8*CI-1];
          f <= '0; f[8*CI-1:0] <= in_d[8*CI-1:0];
          ty <= in_d[8*CI+31:8*CI+16];
          tx <= in_d[8*CI+15:8*CI];
          r = in_d[33+8*CI-1] ? -2 : in_d[8*CI+31:8*CI+17];
          if (r != Y && Y >= 0) begin pend <= act; st <= EMIT; end
          else if (in_d[33+8*CI-1]) st <= ENDT;
          else st <= LWAIT;
          tap <= in_d[8*CI+16] * 2 + in_d[8*CI];
          X <= in_d[8*CI+15:8*CI+1];
          raddr <= in_d[8*CI+15:8*CI+1];
        end
        EMIT: begin
          if (pend == 0) begin
            act <= '0;
            if (tend) st <= ENDT;
            else st <= LWAIT;
            raddr <= X;
          end else begin
            int e;
            e = lowest(pend);
            ex <= e; pend[e] <= 1'b0; raddr <= e;
            st <= ELOAD;
          end
        end
        ELOAD: begin st <= EREQ; rq <= -1; end  // aq valid next cycle
        EREQ: begin
          if (rq >= 0)
            for (int po = 0; po < PO; po++)
              of[8*(rq*PO+po) +: 8] <= requant($signed(aq[32*(rq*PO+po) +: 32]), mult[rq*PO+po], SHIFT, LO, HI);
          if (rq == NOB - 1) st <= OUT;
          rq <= rq + 1;
        end
        OUT: if (out_r) st <= EMIT;
        LWAIT: st <= LOAD;  // aq = am[X] at the end of this cycle
        LOAD: begin
          Y <= ty >>> 1;
          for (int o = 0; o < COP; o++) acc[o] <= act[X] ? $signed(aq[32*o +: 32]) : bias[o];
          cb <= 0; ob <= 0; st <= MAC;
        end
        MAC: begin
          dv <= 1'b1; dcb <= cb; dob <= ob;
          if (ob == NOB - 1) begin
            ob <= 0;
            if (cb == NCB - 1) st <= DRAIN;
            else cb <= cb + 1;
          end else ob <= ob + 1;
        end
        DRAIN: st <= WB;
        WB: begin
          am[X] <= accv;
          act[X] <= 1'b1;
          st <= IDLE;
        end
        ENDT: if (out_r) begin st <= IDLE; Y <= -1; act <= '0; end
        default: st <= IDLE;
      endcase
    end
  end
endmodule

// ---------------------------------------------------------------------------------------------------------
// Residual add of two streams with the same sites: clip((a*Ma + b*Mb + (1 << (S-1))) >>> S), P lanes a step.
module ev_add #(parameter int C = 8, P = 1, SHIFT = 16, LO = -128, HI = 127,
                parameter MAFILE = "", MBFILE = "") (
    input  wire logic clk, input wire logic rst,
    input  wire logic a_v, output logic a_r, input wire logic [33+8*C-1:0] a_d,
    input  wire logic b_v, output logic b_r, input wire logic [33+8*C-1:0] b_d,
    output logic out_v, input wire logic out_r, output logic [33+8*C-1:0] out_d,
    output logic err);
  `include "ev_func.svh"
  localparam int NOB = (C + P - 1) / P, CP = NOB * P;
  logic signed [31:0] ma [CP], mb [CP];
  initial begin
    $readmemh(MAFILE, ma);
    $readmemh(MBFILE, mb);
  end
  typedef enum logic [1:0] {IDLE, CALC, OUT, ENDT} st_t;
  st_t st;
  logic [8*CP-1:0] fa, fb, of;
  logic [31:0] yx;
  int ob;
  wire take = st == IDLE && a_v && b_v;
  assign a_r = take;
  assign b_r = take;
  assign out_v = st == OUT || st == ENDT;
  assign out_d = st == ENDT ? {1'b1, 32'b0, {(8*C){1'b0}}} : {1'b0, yx, of[8*C-1:0]};
  always_ff @(posedge clk) begin
    if (rst) begin
      st <= IDLE; err <= 1'b0;
    end else case (st)
      IDLE: if (take) begin
        if (a_d[33+8*C-1] != b_d[33+8*C-1] || a_d[8*C+31:8*C] != b_d[8*C+31:8*C]) err <= 1'b1;
        fa <= '0; fb <= '0;
        fa[8*C-1:0] <= a_d[8*C-1:0]; fb[8*C-1:0] <= b_d[8*C-1:0];
        yx <= a_d[8*C+31:8*C]; ob <= 0;
        st <= a_d[33+8*C-1] ? ENDT : CALC;
      end
      CALC: begin
        for (int p = 0; p < P; p++) begin
          logic signed [63:0] v;
          v = $signed(fa[8*(ob*P+p) +: 8]) * ma[ob*P+p] + $signed(fb[8*(ob*P+p) +: 8]) * mb[ob*P+p];
          v = v + (64'sd1 <<< (SHIFT - 1));
          v = v >>> SHIFT;
          of[8*(ob*P+p) +: 8] <= clip8(v, LO, HI);
        end
        if (ob == NOB - 1) st <= OUT;
        ob <= ob + 1;
      end
      OUT: if (out_r) st <= IDLE;
      ENDT: if (out_r) st <= IDLE;
    endcase
  end
endmodule

// ---------------------------------------------------------------------------------------------------------
// Grid / global average pool straight onto the output AXI4-Stream: site (y, x) -> ci_ (CY[y], CX[x]) (tables
// written by the generator, = y*GH/H, x*GW/W); per token one read of the ci_'s sums (C x 32 bits), NOB add
// steps of P lanes, one write-back. After the end of frame, per ci_ one read then C/8 output words, each
// 8 lanes of floor((sum*M + ((n << S) >> 1)) / (n << S)) clipped (0 for an empty ci_), computed as an 8-step
// restoring division of floor((sum*M + (n << (S-1))) / 2^S) + 128 n by n (exact: floor(floor(a/b)/c) =
// floor(a/(bc))). The output vector is ordered (ci_, channel), 8 int8 per word, TLAST on the last word.
module ev_pool_axis #(parameter int H = 8, W = 8, C = 8, GH = 1, GW = 1, P = 1, SHIFT = 16, LO = -128, HI = 127,
                      parameter MFILE = "", CYFILE = "", CXFILE = "") (
    input  wire logic clk, input wire logic rst,
    input  wire logic in_v, output logic in_r, input wire logic [33+8*C-1:0] in_d,
    output logic m_tvalid, input wire logic m_tready, output logic [63:0] m_tdata, output logic m_tlast);
  `include "ev_func.svh"
  localparam int NOB = (C + P - 1) / P, CP = NOB * P, NC = GH * GW, NG = C / 8;
  logic signed [31:0] mult [CP];
  logic [15:0] cyt [H], cxt [W];
  initial begin
    $readmemh(MFILE, mult);
    $readmemh(CYFILE, cyt);
    $readmemh(CXFILE, cxt);
  end
  logic [32*CP-1:0] sm [NC];
  logic [32*CP-1:0] sq, sw;
  logic [15:0] cnt [NC];
  typedef enum logic [3:0] {CLEAR, IDLE, LOAD, LOAD2, ADD, WB, FLOAD, FWAIT, FOUT} st_t;
  st_t st;
  logic [8*CP-1:0] f;
  int ci_, ob, g, raddr;
  logic [15:0] n;
  assign in_r = st == IDLE;
  assign m_tvalid = st == FOUT;
  assign m_tlast = st == FOUT && ci_ == NC - 1 && g == NG - 1;

  function automatic logic signed [7:0] avg(input logic signed [31:0] sum, input logic signed [31:0] m,
                                           input logic [15:0] cn);
    logic signed [63:0] num, t, sw, mw, nw;
    logic [63:0] r, d;
    logic [7:0] qq;
    logic signed [63:0] v;
    sw = sum; mw = m; nw = {48'd0, cn};
    num = sw * mw + (nw <<< (SHIFT - 1));
    t = (num >>> SHIFT) + nw * 128;  // floor(t/n) + 128 when the mean is in [-128, 128)
    r = t;
    for (int b = 7; b >= 0; b--) begin
      d = nw << b;
      if (r >= d) begin r = r - d; qq[b] = 1'b1; end else qq[b] = 1'b0;
    end
    v = {56'd0, qq};
    v = v - 128;
    if (cn == 0) avg = 8'sd0;
    else if (t < 0) avg = LO;
    else if (t >= nw * 256) avg = HI;
    else avg = clip8(v, LO, HI);
  endfunction

  // one divider per lane, shared by the first word of a cell (FWAIT: group 0, its count from cnt) and the
  // following ones (FOUT: group g + 1, the held count n)
  logic signed [7:0] av [8];
  int gi;
  logic [15:0] cn;
  always_comb begin
    gi = st == FWAIT ? 0 : g + 1;
    cn = st == FWAIT ? cnt[ci_] : n;
    for (int l = 0; l < 8; l++) av[l] = avg($signed(sq[32*(8*gi+l) +: 32]), mult[8*gi+l], cn);
  end

  always_ff @(posedge clk) begin
    sq <= sm[raddr];
    if (rst) begin
      st <= CLEAR; ci_ <= 0;
    end else case (st)
      CLEAR: begin  // one ci_ per cycle (also after every frame)
        sm[ci_] <= '0; cnt[ci_] <= '0;
        if (ci_ == NC - 1) st <= IDLE;
        ci_ <= ci_ + 1;
      end
      IDLE: if (in_v) begin
        if (in_d[33+8*C-1]) begin ci_ <= 0; raddr <= 0; g <= 0; st <= FLOAD; end
        else begin
          int kk;
          kk = cyt[in_d[8*C+31:8*C+16]] * GW + cxt[in_d[8*C+15:8*C]];
          f <= '0; f[8*C-1:0] <= in_d[8*C-1:0];
          ci_ <= kk; raddr <= kk; st <= LOAD;
        end
      end
      LOAD: st <= LOAD2;  // sq = sm[ci_] at the end of this cycle
      LOAD2: begin ob <= 0; st <= ADD; sw <= sq; end
      ADD: begin
        for (int p = 0; p < P; p++)
          sw[32*(ob*P+p) +: 32] <= sw[32*(ob*P+p) +: 32] + {{24{f[8*(ob*P+p)+7]}}, f[8*(ob*P+p) +: 8]};
        if (ob == NOB - 1) st <= WB;
        ob <= ob + 1;
      end
      WB: begin sm[ci_] <= sw; cnt[ci_] <= cnt[ci_] + 1'b1; st <= IDLE; end
      FLOAD: st <= FWAIT;  // sq = sm[ci_] next cycle
      FWAIT: begin
        for (int l = 0; l < 8; l++) m_tdata[8*l +: 8] <= av[l];
        n <= cnt[ci_];
        g <= 0;
        st <= FOUT;
      end
      FOUT: if (m_tready) begin
        if (g == NG - 1) begin
          if (ci_ == NC - 1) begin ci_ <= 0; st <= CLEAR; end
          else begin ci_ <= ci_ + 1; raddr <= ci_ + 1; st <= FLOAD; end
        end else begin
          for (int l = 0; l < 8; l++) m_tdata[8*l +: 8] <= av[l];
          g <= g + 1;
        end
      end
      default: st <= IDLE;
    endcase
  end
endmodule

`default_nettype wire
