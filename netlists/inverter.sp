* aimc_circuits: static CMOS inverter in sky130 (foundation demo / PDK sanity cell)
*
* Ports:   in out vdd vss
* Params:  wn  nfet width  (um)   default 1
*          wp  pfet width  (um)   default 2
*          l   channel length (um) default 0.15
*
*            vdd
*             |
*        in -|| pfet_01v8 (wp/l)
*             |---- out
*        in -|| nfet_01v8 (wn/l)
*             |
*            vss
*
* Timing: purely combinational; used with a driver inverter and a load cap to
* measure propagation delay and switching energy per cycle.
.subckt aimc_inv in out vdd vss wn=1 wp=2 l=0.15
xp out in vdd vdd sky130_fd_pr__pfet_01v8 w={wp} l={l}
xn out in vss vss sky130_fd_pr__nfet_01v8 w={wn} l={l}
.ends aimc_inv
