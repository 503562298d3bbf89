// Arithmetic of edgevision/ir/ops.py shared by the RTL modules (included inside each module body: Yosys's
// SystemVerilog front end does not import packages into modules).

// clip((acc * m + (1 << (s - 1))) >>> s, lo, hi): the requantizer, 64-bit intermediate, round half up.
function automatic logic signed [7:0] requant(input logic signed [31:0] acc, input logic signed [31:0] m,
                                             input integer s, input integer lo, input integer hi);
  logic signed [63:0] v, a, b, one, l, h;
  a = acc; b = m; one = 1; l = lo; h = hi;
  v = a * b;
  v = v + (one <<< (s - 1));
  v = v >>> s;
  if (v < l) requant = lo[7:0];
  else if (v > h) requant = hi[7:0];
  else requant = v[7:0];
endfunction

function automatic logic signed [7:0] clip8(input logic signed [63:0] v, input integer lo, input integer hi);
  logic signed [63:0] l, h;
  l = lo; h = hi;
  if (v < l) clip8 = lo[7:0];
  else if (v > h) clip8 = hi[7:0];
  else clip8 = v[7:0];
endfunction
