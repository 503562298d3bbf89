// edgevision_top: the generated edgevision_core behind the control interface of the HLS IP, so the PYNQ driver
// (edgevision/runtime/pynq_driver.py) and the register map of edgevision/ir/stream.py work unchanged:
//   AXI-Lite s_axi_control: CTRL 0x00 (bit 0 ap_start, 1 ap_done (clear on read), 2 ap_idle, 3 ap_ready),
//   GIE 0x04, IER 0x08, ISR 0x0C (bit 0 done, toggle-on-write), num_tokens 0x10 (host-written, informational),
//   cycles 0x18 (cycles from ap_start to the TLAST output word of the window).
//   axis_in / axis_out: 64-bit AXI4-Stream (TKEEP all ones), the word format of edgevision/ir/stream.py.
// The input stream is accepted only while a window runs (ap_start .. TLAST out), like the HLS top.
`default_nettype none
module edgevision_top (
    input  wire logic ap_clk, input wire logic ap_rst_n,
    // AXI4-Lite
    input  wire logic [5:0] s_axi_control_AWADDR, input wire logic s_axi_control_AWVALID,
    output logic s_axi_control_AWREADY,
    input  wire logic [31:0] s_axi_control_WDATA, input wire logic [3:0] s_axi_control_WSTRB,
    input  wire logic s_axi_control_WVALID, output logic s_axi_control_WREADY,
    output logic [1:0] s_axi_control_BRESP, output logic s_axi_control_BVALID, input wire logic s_axi_control_BREADY,
    input  wire logic [5:0] s_axi_control_ARADDR, input wire logic s_axi_control_ARVALID,
    output logic s_axi_control_ARREADY,
    output logic [31:0] s_axi_control_RDATA, output logic [1:0] s_axi_control_RRESP,
    output logic s_axi_control_RVALID, input wire logic s_axi_control_RREADY,
    output logic interrupt,
    // AXI4-Stream in / out
    input  wire logic [63:0] axis_in_TDATA, input wire logic axis_in_TVALID, output logic axis_in_TREADY,
    input  wire logic [7:0] axis_in_TKEEP, input wire logic axis_in_TLAST,
    output logic [63:0] axis_out_TDATA, output logic axis_out_TVALID, input wire logic axis_out_TREADY,
    output logic [7:0] axis_out_TKEEP, output logic axis_out_TLAST);
  wire rst = !ap_rst_n;
  logic running, done, gie, ier, isr;
  logic [31:0] num_tokens, cycles, count;
  logic in_ready, out_valid, out_last, err;
  edgevision_core core (.clk(ap_clk), .rst(rst),
      .s_axis_tvalid(axis_in_TVALID && running), .s_axis_tready(in_ready), .s_axis_tdata(axis_in_TDATA),
      .s_axis_tlast(axis_in_TLAST), .m_axis_tvalid(out_valid), .m_axis_tready(axis_out_TREADY),
      .m_axis_tdata(axis_out_TDATA), .m_axis_tlast(out_last), .err(err));
  assign axis_in_TREADY = in_ready && running;
  assign axis_out_TVALID = out_valid;
  assign axis_out_TLAST = out_last;
  assign axis_out_TKEEP = 8'hFF;
  assign interrupt = gie && ier && isr;
  wire finish = out_valid && axis_out_TREADY && out_last;

  // write channel: address and data may come in either order
  logic [5:0] awaddr;
  logic aw_have, w_have;
  logic [31:0] wdata;
  assign s_axi_control_AWREADY = !aw_have;
  assign s_axi_control_WREADY = !w_have;
  assign s_axi_control_BRESP = 2'b00;
  assign s_axi_control_RRESP = 2'b00;
  assign s_axi_control_ARREADY = !s_axi_control_RVALID;
  wire do_write = aw_have && w_have && !s_axi_control_BVALID;
  wire do_read = s_axi_control_ARVALID && s_axi_control_ARREADY;
  always_ff @(posedge ap_clk) begin
    if (rst) begin
      aw_have <= 1'b0; w_have <= 1'b0; s_axi_control_BVALID <= 1'b0; s_axi_control_RVALID <= 1'b0;
      running <= 1'b0; done <= 1'b0; gie <= 1'b0; ier <= 1'b0; isr <= 1'b0;
      num_tokens <= '0; cycles <= '0; count <= '0;
    end else begin
      if (s_axi_control_AWVALID && !aw_have) begin awaddr <= s_axi_control_AWADDR; aw_have <= 1'b1; end
      if (s_axi_control_WVALID && !w_have) begin wdata <= s_axi_control_WDATA; w_have <= 1'b1; end
      if (s_axi_control_BVALID && s_axi_control_BREADY) s_axi_control_BVALID <= 1'b0;
      if (running) count <= count + 1;
      if (finish && running) begin
        running <= 1'b0; done <= 1'b1; isr <= 1'b1; cycles <= count + 1;
      end
      if (do_write) begin
        aw_have <= 1'b0; w_have <= 1'b0; s_axi_control_BVALID <= 1'b1;
        case (awaddr)
          6'h00: if (wdata[0] && !running) begin running <= 1'b1; count <= '0; end
          6'h04: gie <= wdata[0];
          6'h08: ier <= wdata[0];
          6'h0C: if (wdata[0]) isr <= !isr;
          6'h10: num_tokens <= wdata;
          default: ;
        endcase
      end
      if (s_axi_control_RVALID && s_axi_control_RREADY) s_axi_control_RVALID <= 1'b0;
      if (do_read) begin
        s_axi_control_RVALID <= 1'b1;
        case (s_axi_control_ARADDR)
          6'h00: begin
            s_axi_control_RDATA <= {28'b0, !running, !running, done, running};
            done <= 1'b0;  // ap_done is clear on read
          end
          6'h04: s_axi_control_RDATA <= {31'b0, gie};
          6'h08: s_axi_control_RDATA <= {31'b0, ier};
          6'h0C: s_axi_control_RDATA <= {31'b0, isr};
          6'h10: s_axi_control_RDATA <= num_tokens;
          6'h18: s_axi_control_RDATA <= cycles;
          6'h1C: s_axi_control_RDATA <= {31'b0, err};
          default: s_axi_control_RDATA <= '0;
        endcase
      end
    end
  end
endmodule
`default_nettype wire
