"""The one board table: device resources, part numbers, PL clock and a power figure with its source."""

from __future__ import annotations

from dataclasses import dataclass

from edgevision.errors import ConfigError


@dataclass(frozen=True)
class Board:
    name: str
    part: str  # Vivado part number
    board_part: str  # Vivado board part (board files)
    family: str  # "zynquplus" (PS8) or "zynq" (PS7)
    dsp: int
    bram18k: int  # BRAM36 x 2
    lut: int
    clock_mhz: float  # PL clock the design is planned for
    power_w: float  # accelerator-active board power used for energy = power x latency
    power_source: str


# Resources: AMD/Xilinx product tables (Zynq UltraScale+ DS891, Zynq-7000 DS190, Kria K26 DS987).
BOARDS: dict[str, Board] = {
    b.name: b
    for b in (
        Board("zcu102", "xczu9eg-ffvb1156-2-e", "xilinx.com:zcu102:part0:3.4", "zynquplus", 2520, 1824, 274_080, 187.5,
              3.27, "ESDA/SEE eye tracker on ZCU102: 2.29 mJ per 0.7 ms inference (arXiv 2404.14279) = 3.27 W"),
        Board("zcu104", "xczu7ev-ffvc1156-2-e", "xilinx.com:zcu104:part0:1.1", "zynquplus", 1728, 624, 230_400, 187.5,
              3.0, "assumption: ZCU102 figure scaled to the smaller ZU7EV PL (not measured)"),
        Board("kv260", "xck26-sfvc784-2LV-c", "xilinx.com:kv260_som:part0:1.4", "zynquplus", 1248, 288, 117_120, 187.5,
              4.5, "K26 SOM on-board sensors read 4.3-4.8 W during DPU inference (Simfero KV260 power measurement "
              "guide, 2026); a DPU-class load, so an upper figure for this accelerator"),
        Board("ultra96v2", "xczu3eg-sbva484-1-i", "avnet.com:ultra96v2:part0:1.2", "zynquplus", 360, 432, 70_560, 150.0,
              2.0, "assumption: ZU3EG, ZCU102 figure scaled by device size (not measured)"),
        Board("pynq-z2", "xc7z020clg400-1", "tul.com.tw:pynq-z2:part0:1.0", "zynq", 220, 280, 53_200, 100.0,
              1.5, "assumption: XC7Z020 PS7 + PL at 100 MHz (not measured)"),
    )
}


def get_board(name: str) -> Board:
    try:
        return BOARDS[name.lower()]
    except KeyError:
        raise ConfigError(f"unknown board {name!r}; choose one of {sorted(BOARDS)}") from None
