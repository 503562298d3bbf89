"""Host runtime: inference backends behind one interface, the PYNQ driver and its simulated overlay, the
real-time tracker loop (sources -> 10 ms windows -> backend -> GRU head -> pupil) and its outputs."""
