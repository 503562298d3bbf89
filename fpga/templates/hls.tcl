# Vitis HLS (written against the 2023.2 command set; not run here) for the edgevision accelerator of network @NETWORK@.
# Usage: vitis_hls -f hls.tcl -tclargs [csim|csynth|export|all]      (default: all)
set step [expr {[llength $argv] > 0 ? [lindex $argv end] : "all"}]
open_project -reset prj
set_top @TOP@
add_files edgevision_top.cpp -cflags "-I. -std=c++14"
add_files -tb tb.cpp -cflags "-I. -std=c++14"
add_files -tb tb_data
open_solution -reset sol -flow_target vivado
set_part @PART@
create_clock -period @PERIOD_NS@ -name default
if {$step in {csim all}} {
    csim_design -argv "tb_data"
}
if {$step in {csynth export all}} {
    csynth_design
}
if {$step in {export all}} {
    export_design -format ip_catalog -ipname @TOP@ -vendor edgevision -library hls -version 1.0
}
exit
