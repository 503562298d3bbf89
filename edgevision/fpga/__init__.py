"""FPGA backend: the HLS sparse dataflow accelerator generated from the IR, its C simulation with g++, the
cycle/resource model, the board table and the parallelism search."""
