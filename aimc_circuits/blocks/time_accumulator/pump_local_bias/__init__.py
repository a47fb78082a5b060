"""Time-accumulator variant ``pump_local_bias``: the circuit of ``pump_single_slope`` (a shared
falling ramp, comparator-pair VTCs per channel, 16^g-weighted current-steering pumps on a MIM
accumulator, a single-slope charge-up TDC with a counter) with three changes against what couples
its channels and what stops it converting back to back (``netlists/time_accumulator_local_bias.sp``):

* each VTC's pumps mirror their own local bias pair and its comparators' tails a local diode of
  their own, each fed from the column's bias lines by one unit device, so a pulse edge no longer
  kicks the other channels' currents and the comparators' switching (all of them flip back when
  the ramp resets) does not reach the pumps; the ramp sink and the TDC have local bias too, so
  nothing switching hangs on the column's lines;
* the ramp has twice the capacitance and sink current (the same slope), so a comparator's
  switching moves it half as far;
* a 1 ns reset phase (0.3 ns in ``pump_single_slope``, where the reset does not complete), with
  the ramp's and the accumulator's reset switches sized for it.

The testbenches, characterization, fits and behavioral model are ``pump_single_slope``'s, run on
this variant's design (:class:`.design.LocalBiasTADesign`, which names the netlist).
"""
