# Vivado IP packaging (written against the 2023.2 command set; not run here) of the edgevision RTL accelerator for
# network @NETWORK@ on @BOARD@ (@PART@): packages edgevision_top (ev_lib.sv, edgevision_core.sv, ev_axilite.sv and the
# $readmemh ROM files) as edgevision:rtl:@TOP@:1.0 into ip_repo/, with interfaces s_axi_control (AXI4-Lite: CTRL
# @REG_CTRL@, num_tokens @REG_NUM_TOKENS@, cycles @REG_CYCLES@), axis_in / axis_out (64-bit AXI4-Stream) and ap_clk / ap_rst_n.
# Usage: vivado -mode batch -source package_ip.tcl      then: vivado -mode batch -source vivado_bd.tcl
set part @PART@
create_project -force ev_rtl_ip ip_build -part $part
add_files -norecurse [list ev_func.svh ev_lib.sv edgevision_core.sv ev_axilite.sv]
set_property file_type {Verilog Header} [get_files ev_func.svh]
set_property is_global_include true [get_files ev_func.svh]
add_files -norecurse [glob *.hex]
set_property file_type {Memory Initialization Files} [get_files *.hex]
set_property top @TOP@ [current_fileset]
update_compile_order -fileset sources_1
ipx::package_project -root_dir ip_repo -vendor edgevision -library rtl -taxonomy /UserIP -import_files -set_current true
set core [ipx::current_core]
set_property name @TOP@ $core
set_property version 1.0 $core
set_property display_name "edgevision sparse dataflow accelerator (RTL, @NETWORK@)" $core
# Interfaces: inferred from the port names; made explicit here so the block design sees the HLS IP's names.
ipx::infer_bus_interface {axis_in_TDATA axis_in_TVALID axis_in_TREADY axis_in_TKEEP axis_in_TLAST} \
    xilinx.com:interface:axis_rtl:1.0 $core
ipx::infer_bus_interface {axis_out_TDATA axis_out_TVALID axis_out_TREADY axis_out_TKEEP axis_out_TLAST} \
    xilinx.com:interface:axis_rtl:1.0 $core
ipx::infer_bus_interfaces xilinx.com:interface:aximm_rtl:1.0 $core
ipx::infer_bus_interface ap_clk xilinx.com:signal:clock_rtl:1.0 $core
ipx::infer_bus_interface ap_rst_n xilinx.com:signal:reset_rtl:1.0 $core
ipx::infer_bus_interface interrupt xilinx.com:signal:interrupt_rtl:1.0 $core
foreach {bus port} {axis_in axis_in_TDATA axis_out axis_out_TDATA} {
    catch {set_property name $bus [ipx::get_bus_interfaces -of_objects $core -filter "NAME =~ *${bus}*"]}
}
ipx::associate_bus_interfaces -busif s_axi_control -clock ap_clk $core
ipx::associate_bus_interfaces -busif axis_in -clock ap_clk $core
ipx::associate_bus_interfaces -busif axis_out -clock ap_clk $core
set_property value ap_rst_n [ipx::add_bus_parameter ASSOCIATED_RESET [ipx::get_bus_interfaces ap_clk -of_objects $core]]
set_property value ACTIVE_LOW [ipx::add_bus_parameter POLARITY [ipx::get_bus_interfaces ap_rst_n -of_objects $core]]
set_property value @CLOCK_HZ@ [ipx::add_bus_parameter FREQ_HZ [ipx::get_bus_interfaces ap_clk -of_objects $core]]
# Address block of the control registers (the register map of edgevision/ir/stream.py).
set map [ipx::add_memory_map s_axi_control $core]
set blk [ipx::add_address_block Reg0 $map]
set_property range 64 $blk
set_property slave_memory_map_ref s_axi_control [ipx::get_bus_interfaces s_axi_control -of_objects $core]
ipx::create_xgui_files $core
ipx::update_checksums $core
ipx::check_integrity $core
ipx::save_core $core
close_project
exit
