"""The RTL backend: SystemVerilog generation, its latency model, Verilator simulation, Yosys synthesis."""

from edgevision.rtl import codegen  # noqa: F401  (registers each op's RTL module and latency generator)
