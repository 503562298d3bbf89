# Vivado (written against the 2023.2 command set; not run here): block design for @BOARD@ (@PART@) with the processing system,
# an AXI DMA (MM2S feeds axis_in, axis_out feeds S2MM, TLAST ends each window) and the @TOP@ accelerator
# (AXI-Lite s_axi_control: CTRL @REG_CTRL@, num_tokens @REG_NUM_TOKENS@, cycles @REG_CYCLES@); writes overlay/edgevision.{bit,hwh}.
# Usage (after `vitis_hls -f hls.tcl -tclargs export`): vivado -mode batch -source vivado.tcl
set board @BOARD@
set part @PART@
set family @FAMILY@
create_project -force ev_$board vivado -part $part
catch {set_property board_part @BOARD_PART@ [current_project]}
set_property ip_repo_paths [list prj/sol/impl/ip] [current_project]
update_ip_catalog
create_bd_design ev
if {$family eq "zynquplus"} {
    set ps [create_bd_cell -type ip -vlnv xilinx.com:ip:zynq_ultra_ps_e:3.5 ps]
    apply_bd_automation -rule xilinx.com:bd_rule:zynq_ultra_ps_e -config {apply_board_preset "1"} $ps
    set_property -dict [list CONFIG.PSU__USE__S_AXI_GP2 {1} CONFIG.PSU__USE__M_AXI_GP1 {0} \
        CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ {@CLOCK_MHZ@}] $ps
    set hp S_AXI_HP0_FPD
    set gp M_AXI_HPM0_FPD
    set clk pl_clk0
} else {
    set ps [create_bd_cell -type ip -vlnv xilinx.com:ip:processing_system7:5.5 ps]
    apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
        -config {make_external "FIXED_IO, DDR" apply_board_preset "1"} $ps
    set_property -dict [list CONFIG.PCW_USE_S_AXI_HP0 {1} CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ {@CLOCK_MHZ@}] $ps
    set hp S_AXI_HP0
    set gp M_AXI_GP0
    set clk FCLK_CLK0
}
set dma [create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma:7.1 dma]
set_property -dict [list CONFIG.c_include_sg {0} CONFIG.c_sg_length_width {26} \
    CONFIG.c_m_axis_mm2s_tdata_width {64} CONFIG.c_s_axis_s2mm_tdata_width {64} \
    CONFIG.c_include_mm2s {1} CONFIG.c_include_s2mm {1}] $dma
create_bd_cell -type ip -vlnv edgevision:hls:@TOP@:1.0 @TOP@_0
connect_bd_intf_net [get_bd_intf_pins dma/M_AXIS_MM2S] [get_bd_intf_pins @TOP@_0/axis_in]
connect_bd_intf_net [get_bd_intf_pins @TOP@_0/axis_out] [get_bd_intf_pins dma/S_AXIS_S2MM]
apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config [list Master /ps/$gp Clk /ps/$clk] [get_bd_intf_pins dma/S_AXI_LITE]
apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config [list Master /ps/$gp Clk /ps/$clk] [get_bd_intf_pins @TOP@_0/s_axi_control]
apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config [list Slave /ps/$hp Clk /ps/$clk] [get_bd_intf_pins dma/M_AXI_MM2S]
apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config [list Slave /ps/$hp Clk /ps/$clk] [get_bd_intf_pins dma/M_AXI_S2MM]
apply_bd_automation -rule xilinx.com:bd_rule:clkrst -config [list Clk /ps/$clk] [get_bd_pins @TOP@_0/ap_clk]
assign_bd_address
validate_bd_design
save_bd_design
make_wrapper -files [get_files ev.bd] -top
add_files -norecurse [glob vivado/ev_$board.gen/sources_1/bd/ev/hdl/ev_wrapper.v]
launch_runs impl_1 -to_step write_bitstream -jobs 8
wait_on_run impl_1
file mkdir overlay
file copy -force [glob vivado/ev_$board.runs/impl_1/*.bit] overlay/edgevision.bit
file copy -force [glob vivado/ev_$board.gen/sources_1/bd/ev/hw_handoff/ev.hwh] overlay/edgevision.hwh
