* aimc_circuits: row driver (8-bit current-steering DAC + replica-biased source follower)
* and the row line it drives (distributed wire RC + the cells on the row).
* Needs netlists/cell.sp (aimc_cell_group4) and the sky130 library; usable in plain ngspice.
*
* Topology (documented choice; see aimc_circuits/blocks/row_driver.py):
*
*           vdd               vdd                        vdd
*            |                 |                           |
*   vbp -||  Mi_k (2^k units)  ||- vbp (I_rep, nrep units)  |
*            |                 |                           |
*   bb_k -|| Msw_k  (b_k -|| dump to vss)  +-- g ---------|| Mf (lvt, kf x Mrep, body = source)
*            |                 |                           |
*            +---- a ----+    Mrep (lvt diode, body = a)   +--- row --[R]--+--[R]-- ... -- far
*            |           |     |                           |               |
*          R_L (poly)    a ----+                 vbn -|| kf x I_rep sink  cells  cells
*            |           |                                 |
*           vss   vbn -|| (I_rep sink at a)                vss
*
*   DAC:      bit k steers 2^k pfet unit current sources (I_u, mirrored from vbp) into node a,
*             or to vss when the bit is 0; nlo always-on units set the code-0 pedestal; the poly
*             load R_L gives V_a = (nlo + code) x I_u x R_L (0.19 .. 0.97 V).
*   Follower: the replica nfet Mrep (diode, I_rep, source at a) and the follower Mf (kf times
*             wider, kf x I_rep sink) run at the same current density and the same source
*             voltage, so Vgs and body effect cancel: V_row = V_a statically. The I_rep sink at
*             node a removes the replica current from R_L. The follower is always on: the row
*             holds the previous level between conversions.
*   Timing:   the code changes at the start of the cells' phase G (bottom plates grounded, row
*             line unloaded) and settles in the DAC; in phase S the cells' selected bottom plates
*             connect to the row and the follower recharges the line; the cells sample V_row
*             when S ends (5.3 ns cycle: G 2 ns, S 3 ns + gaps, see blocks/cell.py).
*
* aimc_row_driver ports: b0..b7 (bit k, high = 1), bb0..bb7 (complements), row,
*                        vbp, vbn (bias from aimc_row_bias), vdd, vss
*   params: wu lu   unit current-source pfet (um); bit k = 2^k units in parallel (m, mult:
*                   the PDK scales mismatch by 1/sqrt(w l mult))
*           wsw     bit switch pfet width for bit 0 (bit k: wsw*2^k, equal current density)
*           rl      poly load length (um) of sky130_fd_pr__res_high_po, w = 0.35
*           wrep    replica nfet width; kf follower/replica ratio; lf length
*           wb lb   bias sink nfet; nrep replica units; nlo pedestal units
* aimc_row_bias ports: vbp vbn vdd vss; params iu (unit current, A), wu lu wb lb
*   (reference currents are ideal: the macro's bandgap/reference is outside this netlist)
* aimc_row_seg ports: in out col vdd vss s0 sb0 g0 .. s3 sb3 g3
*   one pi-section of the row line: ncell cell-group inputs (aimc_cell_group4 with m = ncell,
*   all holding the same code), wire rcell (ohm) and ccell (F) per cell-group pitch.

.subckt aimc_row_bias vbp vbn vdd vss iu=0.645u nrep=32 wu=0.84 lu=2 wb=4 lb=0.5
* pfet reference diode carrying 8 unit currents -> vbp; nfet diode carrying irep -> vbn
xdp vbp vbp vdd vdd sky130_fd_pr__pfet_01v8 w={wu} l={lu} mult=8 m=8
iref vbp vss {8*iu}
xdn vbn vbn vss vss sky130_fd_pr__nfet_01v8 w={wb} l={lb}
irn vdd vbn {nrep*iu}
.ends aimc_row_bias

.subckt aimc_row_driver b0 b1 b2 b3 b4 b5 b6 b7 bb0 bb1 bb2 bb3 bb4 bb5 bb6 bb7 row vbp vbn vdd vss
+ wu=0.84 lu=2 wsw=0.42 rl=4.1 wrep=4 kf=10 lf=0.3 wb=4 lb=0.5 nrep=32 nlo=48
* current-steering DAC: unit sources (2^k units for bit k) and bit switches into node a
xi0 d0 vbp vdd vdd sky130_fd_pr__pfet_01v8 w={wu} l={lu} mult=1 m=1
xi1 d1 vbp vdd vdd sky130_fd_pr__pfet_01v8 w={wu} l={lu} mult=2 m=2
xi2 d2 vbp vdd vdd sky130_fd_pr__pfet_01v8 w={wu} l={lu} mult=4 m=4
xi3 d3 vbp vdd vdd sky130_fd_pr__pfet_01v8 w={wu} l={lu} mult=8 m=8
xi4 d4 vbp vdd vdd sky130_fd_pr__pfet_01v8 w={wu} l={lu} mult=16 m=16
xi5 d5 vbp vdd vdd sky130_fd_pr__pfet_01v8 w={wu} l={lu} mult=32 m=32
xi6 d6 vbp vdd vdd sky130_fd_pr__pfet_01v8 w={wu} l={lu} mult=64 m=64
xi7 d7 vbp vdd vdd sky130_fd_pr__pfet_01v8 w={wu} l={lu} mult=128 m=128
xs0 a bb0 d0 vdd sky130_fd_pr__pfet_01v8 w={wsw*1} l=0.15
xs1 a bb1 d1 vdd sky130_fd_pr__pfet_01v8 w={wsw*2} l=0.15
xs2 a bb2 d2 vdd sky130_fd_pr__pfet_01v8 w={wsw*4} l=0.15
xs3 a bb3 d3 vdd sky130_fd_pr__pfet_01v8 w={wsw*8} l=0.15
xs4 a bb4 d4 vdd sky130_fd_pr__pfet_01v8 w={wsw*16} l=0.15
xs5 a bb5 d5 vdd sky130_fd_pr__pfet_01v8 w={wsw*32} l=0.15
xs6 a bb6 d6 vdd sky130_fd_pr__pfet_01v8 w={wsw*64} l=0.15
xs7 a bb7 d7 vdd sky130_fd_pr__pfet_01v8 w={wsw*128} l=0.15
* dump switches: a unit source whose bit is 0 steers its current to vss (it never turns off,
* so no drain-charge glitch reaches node a)
xd0 vss b0 d0 vdd sky130_fd_pr__pfet_01v8 w={wsw*1} l=0.15
xd1 vss b1 d1 vdd sky130_fd_pr__pfet_01v8 w={wsw*2} l=0.15
xd2 vss b2 d2 vdd sky130_fd_pr__pfet_01v8 w={wsw*4} l=0.15
xd3 vss b3 d3 vdd sky130_fd_pr__pfet_01v8 w={wsw*8} l=0.15
xd4 vss b4 d4 vdd sky130_fd_pr__pfet_01v8 w={wsw*16} l=0.15
xd5 vss b5 d5 vdd sky130_fd_pr__pfet_01v8 w={wsw*32} l=0.15
xd6 vss b6 d6 vdd sky130_fd_pr__pfet_01v8 w={wsw*64} l=0.15
xd7 vss b7 d7 vdd sky130_fd_pr__pfet_01v8 w={wsw*128} l=0.15
* offset source: nlo unit currents always on (row level v_lo at code 0)
xilo a vbp vdd vdd sky130_fd_pr__pfet_01v8 w={wu} l={lu} mult={nlo} m={nlo}
xrl a vss vss sky130_fd_pr__res_high_po w=0.35 l={rl}
* replica: pfet source of nrep unit currents into g, diode nfet g -> a, matched sink at a
xir g vbp vdd vdd sky130_fd_pr__pfet_01v8 w={wu} l={lu} mult={nrep} m={nrep}
xrep g g a a sky130_fd_pr__nfet_01v8_lvt w={wrep} l={lf}
xsk a vbn vss vss sky130_fd_pr__nfet_01v8 w={wb} l={lb}
* follower (drain at vdd, always on) with its bias sink kf x I_rep
xf vdd g row row sky130_fd_pr__nfet_01v8_lvt w={wrep*kf} l={lf}
xfs row vbn vss vss sky130_fd_pr__nfet_01v8 w={wb*kf} l={lb}
.ends aimc_row_driver

.subckt aimc_row_seg in out col vdd vss s0 sb0 g0 s1 sb1 g1 s2 sb2 g2 s3 sb3 g3
+ ncell=8 rcell=0.4 ccell=1.5f wn=0.42 wp=0.42 wg=0.42 l=0.15
rw in out {rcell*ncell}
cwi in vss {ccell*ncell/2}
cwo out vss {ccell*ncell/2}
xc out col vss vdd s0 sb0 g0 s1 sb1 g1 s2 sb2 g2 s3 sb3 g3 aimc_cell_group4 wn={wn} wp={wp} wg={wg} l={l} m={ncell}
.ends aimc_row_seg
