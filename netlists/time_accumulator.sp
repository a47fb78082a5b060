* aimc_circuits: column time accumulator (ramp VTCs, signed weighted charge-pump time
* accumulation, single-slope time-to-digital conversion).
* Needs the sky130 library; usable in plain ngspice.
*
* One column of the macro has 8 sub-arrays x 2 capacitor groups = 16 group column voltages
* V[s,g] (the cells' charge-sharing result, vr - V = the group's dot product). Signed weights
* are stored offset-binary (w + 128): a reference column holding code 8 in both groups gives the
* per-sub-array reference voltages Vref[s,g] (shared lines, one per sub-array and group), so
* (V[s,g] - Vref[s,g]) carries sum_r x_r (c_rg - 8): signed, pedestal-free before any gain.
*
*   ramp (per column) --+---------------------+
*                       |                     |
*   V[s,g] ----------[cmp]-- c_col    Vref[s,g] --[cmp]-- c_ref        (one pair per s,g)
*                        \                   /
*     pos = c_col & !c_ref  (ramp crossed Vref first: V < Vref, positive product)
*     neg = c_ref & !c_col  (ramp crossed V first: negative product)
*                        |                  |
*                  sink 16^g I0       source 16^g I0       (binary group weight, signed)
*                        +------ acc ------+
*                                 |
*                               C_acc (MIM), reset to vmid before the ramp
*   TDC: after the ramp, a pfet source I_d (conv) charges acc up; a comparator (acc > vhi)
*        stops the column's counter: code = floor(t_stop / t_lsb) (counter clock, digital).
*
* Timing: rst (acc -> vmid, ramp -> vdd) | run: the ramp falls at slope ~ mr I0 / C_ramp from vdd
*         (all VTC pulses in parallel) | conv: TDC charge-up until the stop comparator flips.
*
* aimc_ta_bias ports: vbn vbp vdd vss  params: i0 (unit current, A; ideal reference)
* aimc_ta_cmp  ports: inp inn c cb vbn vdd vss   (c high while inp > inn; cb its complement)
*   nfet lvt input pair wi x li with a pfet lvt mirror load, tail = mt unit sources, 2 inverters
* aimc_ta_ramp ports: ramp rstb run vbn vdd vss  params: mr (sink units), cw cl (MIM, um)
* aimc_ta_vtc  ports: v vref ramp acc vbn vbp vdd vss  params: mg (group weight in units)
*   the signed VTC + charge pump of one (sub-array, group); pump switches scale with mg
* aimc_ta_tdc  ports: acc rst conv vmid vhi stop vbn vbp vdd vss  params: md (charge-up units),
*   cw cl (C_acc MIM, um)

.subckt aimc_ta_bias vbn vbp vdd vss i0=7u wcn=2 lcn=1 wcp=4 lcp=1
xdn vbn vbn vss vss sky130_fd_pr__nfet_01v8 w={wcn} l={lcn}
irn vdd vbn {i0}
xdp vbp vbp vdd vdd sky130_fd_pr__pfet_01v8 w={wcp} l={lcp}
irp vbp vss {i0}
.ends aimc_ta_bias

.subckt aimc_ta_cmp inp inn c cb vbn vdd vss wi=2 li=0.5 wl=2 ll=0.5 mt=2 wcn=2 lcn=1
xm1 x1 inp t vss sky130_fd_pr__nfet_01v8_lvt w={wi} l={li}
xm2 o1 inn t vss sky130_fd_pr__nfet_01v8_lvt w={wi} l={li}
xp1 x1 x1 vdd vdd sky130_fd_pr__pfet_01v8_lvt w={wl} l={ll}
xp2 o1 x1 vdd vdd sky130_fd_pr__pfet_01v8_lvt w={wl} l={ll}
xt t vbn vss vss sky130_fd_pr__nfet_01v8 w={wcn} l={lcn} mult={mt} m={mt}
xi1n cb o1 vss vss sky130_fd_pr__nfet_01v8 w=0.42 l=0.15
xi1p cb o1 vdd vdd sky130_fd_pr__pfet_01v8 w=0.84 l=0.15
xi2n c cb vss vss sky130_fd_pr__nfet_01v8 w=0.42 l=0.15
xi2p c cb vdd vdd sky130_fd_pr__pfet_01v8 w=0.84 l=0.15
.ends aimc_ta_cmp

.subckt aimc_ta_ramp ramp rstb run vbn vdd vss mr=16 cw=14 cl=14 wcn=2 lcn=1
xrst ramp rstb vdd vdd sky130_fd_pr__pfet_01v8 w=2 l=0.15
xcr ramp vss sky130_fd_pr__cap_mim_m3_1 w={cw} l={cl}
xsw ramp run ns vss sky130_fd_pr__nfet_01v8 w=4 l=0.5
xcs ns vbn vss vss sky130_fd_pr__nfet_01v8 w={wcn} l={lcn} mult={mr} m={mr}
.ends aimc_ta_ramp

.subckt aimc_ta_nand a b y vdd vss
xpa y a vdd vdd sky130_fd_pr__pfet_01v8 w=0.84 l=0.15
xpb y b vdd vdd sky130_fd_pr__pfet_01v8 w=0.84 l=0.15
xna y a m vss sky130_fd_pr__nfet_01v8 w=0.84 l=0.15
xnb m b vss vss sky130_fd_pr__nfet_01v8 w=0.84 l=0.15
.ends aimc_ta_nand

.subckt aimc_ta_vtc v vref ramp acc vbn vbp vdd vss mg=1 wcn=2 lcn=1 wcp=4 lcp=1
xcc ramp v cc ccb vbn vdd vss aimc_ta_cmp
xcr ramp vref rc rcb vbn vdd vss aimc_ta_cmp
* pos: ramp already below vref, still above v -> sink; neg: the opposite -> source
xnp cc rcb posb vdd vss aimc_ta_nand
xnn rc ccb negb vdd vss aimc_ta_nand
xip pos posb vss vss sky130_fd_pr__nfet_01v8 w=0.42 l=0.15
xipp pos posb vdd vdd sky130_fd_pr__pfet_01v8 w=0.84 l=0.15
xss acc pos ns vss sky130_fd_pr__nfet_01v8 w={0.42*mg} l=0.15
xsn ns vbn vss vss sky130_fd_pr__nfet_01v8 w={wcn} l={lcn} mult={mg} m={mg}
xsp acc negb ps vdd sky130_fd_pr__pfet_01v8 w={1.26*mg} l=0.15
xsq ps vbp vdd vdd sky130_fd_pr__pfet_01v8 w={wcp} l={lcp} mult={mg} m={mg}
.ends aimc_ta_vtc

.subckt aimc_ta_tdc acc rst conv vmid vhi stop vbn vbp vdd vss md=1 cw=10 cl=10 wcp=4 lcp=1
xca acc vss sky130_fd_pr__cap_mim_m3_1 w={cw} l={cl}
xrs acc rst vmid vss sky130_fd_pr__nfet_01v8 w=0.84 l=0.15
xrb acc rstb vmid vdd sky130_fd_pr__pfet_01v8 w=0.84 l=0.15
xri rstb rst vss vss sky130_fd_pr__nfet_01v8 w=0.42 l=0.15
xrp rstb rst vdd vdd sky130_fd_pr__pfet_01v8 w=0.84 l=0.15
xcb convb conv vss vss sky130_fd_pr__nfet_01v8 w=0.42 l=0.15
xcp convb conv vdd vdd sky130_fd_pr__pfet_01v8 w=0.84 l=0.15
xsw acc convb pd vdd sky130_fd_pr__pfet_01v8 w=0.84 l=0.15
xsd pd vbp vdd vdd sky130_fd_pr__pfet_01v8 w={wcp} l={lcp} mult={md} m={md}
xcmp acc vhi stop stopb vbn vdd vss aimc_ta_cmp
.ends aimc_ta_tdc
