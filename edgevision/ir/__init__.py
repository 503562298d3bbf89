"""The integer network IR shared by every backend."""

from edgevision.ir.ops import OPS, OpSpec, requant_bounds
from edgevision.ir.schema import IR_VERSION, InputSpec, Layer, Network, load_ir, save_ir, validate

__all__ = ["IR_VERSION", "OPS", "InputSpec", "Layer", "Network", "OpSpec", "load_ir", "requant_bounds", "save_ir", "validate"]
