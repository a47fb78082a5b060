* aimc_circuits: column time accumulator, variant pump_local_bias (ramp VTCs, signed weighted
* charge-pump time accumulation, single-slope time-to-digital conversion), each VTC on its own
* bias pair fed from the column's bias lines.
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
*     first = the ramp crossed V or Vref; pos = first until the V crossing + td,
*     neg = first until the Vref crossing + td: widths T+ + td, T- + td (T = t(V) - t(Vref))
*                        |                  |
*                  sink 16^g I0       source 16^g I0       (binary group weight, signed;
*                  always on, steered to acc during the pulse, to vdum = vmid otherwise)
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
* aimc_ta_ramp ports: ramp rstb run vbn vdd vss  params: mr (sink units), cw cl (MIM, um), wr (reset
*   pfet width, um: sized to bring the ramp back to vdd within the 1 ns reset phase)
* aimc_ta_inv  ports: a y vdd vss  params: k (width multiple of a 0.42/0.84 um inverter), l (um)
* aimc_ta_vtc  ports: v vref ramp acc vdum vbn vbp vdd vss  params: mg (group weight
*   in units), ld (channel length of the pulse-extension delay inverters, um). The signed VTC + current-steering charge pump of one (sub-array, group): the
*   always-on 16^g I0 sink/source are steered onto acc during a pulse, into vdum (held at
*   vmid) otherwise; switches and their drivers scale with mg. Its pumps mirror a local bias
*   pair (aimc_ta_lbias), its comparators' tails a local diode of their own: a pulse edge kicks
*   only its own channel's bias, not the other 15 channels', and the comparators' switching
*   does not reach the pumps (pump_single_slope hangs all 16 channels' pumps and comparators,
*   the ramp sink and the TDC on vbn / vbp directly)
* aimc_ta_lbias ports: lbn lbp vbn vbp vdd vss: a local nfet / pfet diode pair, each fed i0 by a
*   unit device on the column's vbp / vbn. The ramp sink and the TDC have their own too, so that
*   nothing switching hangs on the column's lines: a conversion leaves them where it found them
* aimc_ta_tdc  ports: acc rst conv vmid vhi stop vbn vbp vdd vss  params: md (charge-up current in
*   units of I0, by width), kr (width of the accumulator's reset gate in units of 0.84 um),
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

.subckt aimc_ta_lbias lbn lbp vbn vbp vdd vss wcn=2 lcn=1 wcp=4 lcp=1
* a local bias pair: a unit pfet on the column's vbp sources i0 into a local nfet diode (lbn), a
* unit nfet on the column's vbn sinks i0 from a local pfet diode (lbp). What hangs on lbn / lbp
* kicks the column's lines only through the two feeders' drain capacitances, and the local diodes
* hold those drains within a few mV
xfp lbn vbp vdd vdd sky130_fd_pr__pfet_01v8 w={wcp} l={lcp}
xln lbn lbn vss vss sky130_fd_pr__nfet_01v8 w={wcn} l={lcn}
xfn lbp vbn vss vss sky130_fd_pr__nfet_01v8 w={wcn} l={lcn}
xlp lbp lbp vdd vdd sky130_fd_pr__pfet_01v8 w={wcp} l={lcp}
.ends aimc_ta_lbias

.subckt aimc_ta_ramp ramp rstb run vbn vdd vss mr=16 cw=14 cl=14 wcn=2 lcn=1 wcp=4 lcp=1 wr=128
* the ramp sink's own bias, in two steps from vbn alone: a unit nfet on vbn feeds a local pfet
* diode (lbp), a unit pfet on lbp a local nfet diode (lbn) that the sink mirrors
xfn lbp vbn vss vss sky130_fd_pr__nfet_01v8 w={wcn} l={lcn}
xlp lbp lbp vdd vdd sky130_fd_pr__pfet_01v8 w={wcp} l={lcp}
xfp lbn lbp vdd vdd sky130_fd_pr__pfet_01v8 w={wcp} l={lcp}
xln lbn lbn vss vss sky130_fd_pr__nfet_01v8 w={wcn} l={lcn}
xrst ramp rstb vdd vdd sky130_fd_pr__pfet_01v8 w={wr} l=0.15
xcr ramp vss sky130_fd_pr__cap_mim_m3_1 w={cw} l={cl}
xsw ramp run ns vss sky130_fd_pr__nfet_01v8 w=4 l=0.5
xcs ns lbn vss vss sky130_fd_pr__nfet_01v8 w={wcn} l={lcn} mult={mr} m={mr}
.ends aimc_ta_ramp

.subckt aimc_ta_nand a b y vdd vss
xpa y a vdd vdd sky130_fd_pr__pfet_01v8 w=0.84 l=0.15
xpb y b vdd vdd sky130_fd_pr__pfet_01v8 w=0.84 l=0.15
xna y a m vss sky130_fd_pr__nfet_01v8 w=0.84 l=0.15
xnb m b vss vss sky130_fd_pr__nfet_01v8 w=0.84 l=0.15
.ends aimc_ta_nand

.subckt aimc_ta_inv a y vdd vss k=1 l=0.15
xn y a vss vss sky130_fd_pr__nfet_01v8 w={0.42*k} l={l}
xp y a vdd vdd sky130_fd_pr__pfet_01v8 w={0.84*k} l={l}
.ends aimc_ta_inv

.subckt aimc_ta_vtc v vref ramp acc vdum vbn vbp vdd vss mg=1 ld=0.25 wcn=2 lcn=1 wcp=4 lcp=1
* the channel's own bias: a pair for its pumps (lbn, lbp) and, apart from it, a unit pfet on vbp
* feeding a local nfet diode for its comparators' tails (lbc): the comparators all flip back when
* the ramp resets, and on the pumps' pair that kick was still there when the next ramp started
xlb lbn lbp vbn vbp vdd vss aimc_ta_lbias wcn={wcn} lcn={lcn} wcp={wcp} lcp={lcp}
xfc lbc vbp vdd vdd sky130_fd_pr__pfet_01v8 w={wcp} l={lcp}
xlc lbc lbc vss vss sky130_fd_pr__nfet_01v8 w={wcn} l={lcn}
xcc ramp v cc ccb lbc vdd vss aimc_ta_cmp
xcr ramp vref rc rcb lbc vdd vss aimc_ta_cmp
* first: the ramp has crossed v or vref (NAND of the two comparator outputs). The pos pulse runs
* from the first crossing to the v crossing + delay td, the neg pulse from the first crossing to
* the vref crossing + td: widths T+ + td and T- + td (T = t(v) - t(vref)). Both pumps always fire
* for at least td (no runt pulses near T = 0); the net charge k+ T+ - k- T- + (k+ - k-) td is
* linear in T on each side, with a constant offset from any sink/source mismatch
xnf cc rc first vdd vss aimc_ta_nand
xdc1 cc cd1 vdd vss aimc_ta_inv k=1 l={ld}
xdc2 cd1 cd2 vdd vss aimc_ta_inv k=1 l={ld}
xdc3 cd2 cd3 vdd vss aimc_ta_inv k=1 l={ld}
xdc4 cd3 ccd vdd vss aimc_ta_inv k=1 l={ld}
xdr1 rc rd1 vdd vss aimc_ta_inv k=1 l={ld}
xdr2 rd1 rd2 vdd vss aimc_ta_inv k=1 l={ld}
xdr3 rd2 rd3 vdd vss aimc_ta_inv k=1 l={ld}
xdr4 rd3 rcd vdd vss aimc_ta_inv k=1 l={ld}
xnp first ccd posb vdd vss aimc_ta_nand
xnn first rcd negb vdd vss aimc_ta_nand
* gate drivers: a unit inverter, then two inverters sized with the group weight
xdp1 posb p1 vdd vss aimc_ta_inv k=1
xdp2 p1 pd vdd vss aimc_ta_inv k={max(1, mg/4)}
xdp3 pd pa vdd vss aimc_ta_inv k={max(1, mg/4)}
xdn1 negb n1 vdd vss aimc_ta_inv k=1
xdn2 n1 nd vdd vss aimc_ta_inv k={max(1, mg/4)}
xdn3 nd na vdd vss aimc_ta_inv k={max(1, mg/4)}
* current-steering pumps: the mirror currents are always on and steered either onto acc (during
* a pulse) or into vdum (held at vmid): the mirror drains never collapse, so no per-pulse charge
* is dumped onto acc and no drain swing kicks the bias lines through Cgd
xsn ns lbn vss vss sky130_fd_pr__nfet_01v8 w={wcn} l={lcn} mult={mg} m={mg}
xss acc pa ns vss sky130_fd_pr__nfet_01v8 w={0.84*mg} l=0.15
xsd vdum pd ns vss sky130_fd_pr__nfet_01v8 w={0.84*mg} l=0.15
xsq ps lbp vdd vdd sky130_fd_pr__pfet_01v8 w={wcp} l={lcp} mult={mg} m={mg}
xsp acc nd ps vdd sky130_fd_pr__pfet_01v8 w={2.52*mg} l=0.15
xsr vdum na ps vdd sky130_fd_pr__pfet_01v8 w={2.52*mg} l=0.15
.ends aimc_ta_vtc

.subckt aimc_ta_tdc acc rst conv vmid vhi stop vbn vbp vdd vss md=1 cw=10 cl=10 wcp=4 lcp=1 kr=48
xca acc vss sky130_fd_pr__cap_mim_m3_1 w={cw} l={cl}
* the accumulator's reset gate, kr x the unit 0.84 um pair (sized for the 1 ns reset phase),
* its local inverter kr / 4 x the unit
xrs acc rst vmid vss sky130_fd_pr__nfet_01v8 w={0.84*kr} l=0.15
xrb acc rstb vmid vdd sky130_fd_pr__pfet_01v8 w={0.84*kr} l=0.15
xri rstb rst vss vss sky130_fd_pr__nfet_01v8 w={0.42*max(1, kr/4)} l=0.15
xrp rstb rst vdd vdd sky130_fd_pr__pfet_01v8 w={0.84*max(1, kr/4)} l=0.15
xcb convb conv vss vss sky130_fd_pr__nfet_01v8 w=0.42 l=0.15
xcp convb conv vdd vdd sky130_fd_pr__pfet_01v8 w=0.84 l=0.15
xsw acc convb pd vdd sky130_fd_pr__pfet_01v8 w=0.84 l=0.15
* the TDC's own bias pair: its charge-up source and its stop comparator hang on lbn / lbp
xlb lbn lbp vbn vbp vdd vss aimc_ta_lbias wcp={wcp} lcp={lcp}
xsd pd lbp vdd vdd sky130_fd_pr__pfet_01v8 w={wcp*md} l={lcp}
xcmp acc vhi stop stopb lbn vdd vss aimc_ta_cmp
.ends aimc_ta_tdc
