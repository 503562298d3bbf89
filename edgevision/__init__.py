"""edgevision: event-camera vision at the edge, from raw events to an FPGA eye tracker."""

__version__ = "0.1.0"
