"""``okml``: the command line of the OKPay fraud workbench.

Thin on purpose: parse arguments, load params, call one function per command, and turn
known errors into one-line messages with exit code 2 (3 when a retrain is already running).
SIGTERM (what cron and systemd timeouts send) and SIGINT stop a command the same way: every
``finally`` runs (the MLflow run is marked KILLED, the kernel stopped, temporary files
removed), one line says so and the exit code is 128 + the signal (143, 130).
Run ``okml COMMAND --help`` for each command's options; every help ends with the exit codes
(:func:`exit_codes`).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

from okml.config import Params, load_params
from okml.errors import OkmlError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("okml")
# seconds a stopped command gets to clean up before another signal interrupts that too
CLEANUP_S = 30.0


class Stopped(KeyboardInterrupt):
    """A stop signal, raised in the main thread. A ``KeyboardInterrupt`` so that it passes
    ``except Exception`` handlers and unwinds through every ``finally``."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.killed_runs: list[str] = []  # filled by okml.tracking.run on its way out
        super().__init__(self.name)


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGINT into :class:`Stopped` while a command runs. Signals repeated
    within :data:`CLEANUP_S` of the first are ignored: they must not cut the cleanup the first
    started (later ones raise again, should something have swallowed the first). A signal
    ignored when okml starts (``nohup``, a background shell's SIGINT) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    first: list[float] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if first and time.monotonic() - first[0] < CLEANUP_S:
            return
        first[:] = [time.monotonic()]
        raise Stopped(signum)

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


EPILOG = """\
typical day:
  okml simulate                      # make the default OKPay data under data/raw/
  okml validate data/raw/transactions.parquet
  okml features --input data/raw/transactions.parquet --output data/interim/features.parquet
  okml evaluate                      # compare models on prequential folds
  okml train                         # run notebooks/02_train.ipynb under MLflow, register the model
  okml retrain --as-of 2026-06-01    # what cron runs nightly; promotes only a better model
  okml score --input new.parquet --history data/raw/transactions.parquet
  okml report --date 2026-06-28      # reviewers' HTML report of the day's flagged cases
  okml monitor --from 2026-05-30 --to 2026-06-28   # drift and estimated precision; exit 1 on alarm
  okml serve --warm-from data/raw/transactions.parquet   # score payments as they arrive

every command takes --params FILE (default: params.yaml) and --set section.key=value
"""


def exit_codes(retrain: bool = True) -> str:
    """The exit codes :func:`main` returns, for the end of a command's help (``retrain``:
    with the one only ``okml retrain`` has)."""
    lines = [
        "exit codes:",
        "  0    success" + (" (retrain: also when the challenger is not promoted)" if retrain else ""),
        "  2    bad input, params or environment: one line on stderr saying what (--debug shows",
        "       the traceback); a wrong option prints the usage, then that line",
    ]
    if retrain:
        lines.append("  3    okml retrain: another retrain holds the lock; nothing was started")
    lines += [
        "  130  interrupted (Ctrl-C, SIGINT)",
        "  143  stopped by SIGTERM (cron, systemd timeouts); after either, temporary files are",
        "       removed and the MLflow run of a train or retrain is marked KILLED",
        "an unexpected error (an okml bug) exits with 1 and a traceback",
    ]
    return "\n".join(lines) + "\n"


def _days(td: pd.Timedelta) -> str:
    """``Timedelta('60 days')`` -> ``60 days`` (whole days), else the Timedelta's text."""
    import pandas as pd

    return f"{td.days} days" if td == pd.Timedelta(days=td.days) else str(td)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", metavar="FILE", help="params file (default: params.yaml in the project)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one parameter, e.g. --set model.max_depth=4 (repeatable)",
    )
    p.add_argument(
        "--engine",
        choices=["local", "dask"],
        help="local: one pandas frame in this process; dask: partitions on a Dask cluster "
        "(compute.dask.address, or a LocalCluster here); same as --set compute.engine=... "
        "(default: compute.engine, local)",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


# --------------------------------------------------------------------------- commands
def cmd_simulate(args: argparse.Namespace, params: Params) -> int:
    from okml.paths import resolve
    from okml.simulate import print_summary, simulate_to_file

    target = resolve(args.output or params.simulate.output)
    if args.if_missing and target.exists():
        print(f"data already at {target}; not simulating (delete it to regenerate)")
        return 0
    path, df = simulate_to_file(params.simulate, output=args.output, progress=not args.quiet)
    print_summary(df)
    print(f"\nwrote {len(df):,} transactions to {path}")
    return 0


def cmd_validate(args: argparse.Namespace, params: Params) -> int:
    from okml.data import load, print_validation_summary

    if params.compute.engine == "dask":
        from okml.jobs.distributed import validate_job

        for line in validate_job(params, args.path, args.preset, quiet=args.quiet):
            print(line)
        return 0

    df = load(args.path, preset=args.preset, params=params.data)
    print_validation_summary(df, source=args.path)
    return 0


def cmd_features(args: argparse.Namespace, params: Params) -> int:
    from okml.data import load
    from okml.features import build_features
    from okml.io import write_parquet
    from okml.paths import resolve

    if params.compute.engine == "dask":
        from okml.jobs.distributed import features_job

        target = resolve(args.output.removesuffix(".parquet") if args.output == FEATURES_OUT else args.output)
        rows, n = features_job(params, args.input, target, quiet=args.quiet)
        print(f"wrote {n} features for {rows:,} transactions to {target}/ (a Parquet dataset)")
        return 0
    tx = load(args.input or params.data.path, preset=args.preset, params=params.data)
    feats = build_features(tx, params.features, progress=not args.quiet)
    out = resolve(args.output)
    write_parquet(feats.reset_index(), out)
    print(f"wrote {feats.shape[1]} features for {len(feats):,} transactions to {out}")
    return 0


FEATURES_OUT = "data/interim/features.parquet"


def cmd_evaluate(args: argparse.Namespace, params: Params) -> int:
    from okml.jobs.evaluate import run_evaluation

    run_evaluation(params, output_dir=args.output, progress=not args.quiet)
    return 0


def cmd_train(args: argparse.Namespace, params: Params) -> int:
    from okml.jobs.train import train

    return train(params, params_path=args.params, overrides=args.overrides)


def cmd_retrain(args: argparse.Namespace, params: Params) -> int:
    from okml.jobs.train import retrain

    return retrain(params, as_of=args.as_of, params_path=args.params, overrides=args.overrides)


def cmd_score(args: argparse.Namespace, params: Params) -> int:
    from okml.jobs.score import score_cli

    if params.compute.engine == "dask":
        from okml.jobs.score import score_dask_cli

        return score_dask_cli(
            params, args.input, args.history, args.model, args.output, not args.quiet, args.top_k
        )

    return score_cli(
        params,
        input=args.input,
        history=args.history,
        model=args.model,
        output=args.output,
        progress=not args.quiet,
        top_k=args.top_k,
    )


def cmd_serve(args: argparse.Namespace, params: Params) -> int:
    from okml.jobs.serve import serve_cli

    return serve_cli(
        params,
        model=args.model,
        warm_from=args.warm_from,
        port=args.port,
        host=args.host,
        warm_from_run=args.warm_from_run,
    )


def cmd_cases(args: argparse.Namespace, params: Params) -> int:
    from okml.jobs.cases import cases_cli, compensation_cli

    if args.compensation:
        if not (args.start and args.end):
            raise OkmlError("--compensation needs --from D1 and --to D2 (local days, YYYY-MM-DD)")
        return compensation_cli(params, args.start, args.end, output=args.output)
    if args.start or args.end:
        raise OkmlError("--from and --to go with --compensation")
    return cases_cli(params, scored=args.scored, date=args.date, output=args.output)


def cmd_labels(args: argparse.Namespace, params: Params) -> int:
    from okml.jobs.labels import labels_import_cli

    return labels_import_cli(params, args.file)


def cmd_review(args: argparse.Namespace, params: Params) -> int:
    from okml.jobs.review import review_cli

    return review_cli(params, args.action, args.name, args.scored, args.port, args.host)


def cmd_evidence(args: argparse.Namespace, params: Params) -> int:
    from okml.jobs.evidence import evidence_cli, verify_cli

    if args.action == "verify":
        if not args.pack:
            raise OkmlError("okml evidence verify PACK.zip: give the pack to check")
        return verify_cli(params, args.pack)
    if args.pack:
        raise OkmlError(f"unexpected {args.pack!r}: use --case, --merchant or --ring to build a pack")
    return evidence_cli(params, args.case, args.merchant, args.ring, args.output)


def cmd_rings(args: argparse.Namespace, params: Params) -> int:
    from okml.jobs.rings import rings_cli

    return rings_cli(params, date=args.date, scored=args.scored, output=args.output)


def cmd_report(args: argparse.Namespace, params: Params) -> int:
    from okml.jobs.report import report_cli

    return report_cli(params, date=args.date, scored=args.scored, model=args.model, output=args.output)


def cmd_monitor(args: argparse.Namespace, params: Params) -> int:
    from okml.jobs.monitor import monitor_cli

    return monitor_cli(params, args.start, args.end, model=args.model, output=args.output, as_of=args.as_of)


#: the exit codes of ``okml monitor`` before the common ones
MONITOR_EXIT = """\
okml monitor exits 1 when a threshold of monitor.thresholds is crossed on a monitored day,
with one line on stderr naming it and its first day, e.g.
  okml monitor: score drift PSI 0.31 > 0.25 from 2026-05-02 (first of 4 days)
(an okml bug exits 1 too, but with a traceback)
"""


def build_parser() -> argparse.ArgumentParser:
    from okml.config import Params
    from okml.data.presets import PRESETS
    from okml.features import lookback

    parser = argparse.ArgumentParser(
        prog="okml",
        description="OKPay fraud-detection workbench: simulate, featurize, train, evaluate, explain.",
        epilog=EPILOG + "\n" + exit_codes(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    defaults = Params()  # what params.yaml ships (tests/test_config.py checks they are equal)

    preset_help = "input format (default: data.preset): " + "; ".join(
        f"{p.name}: {p.description}" for p in PRESETS.values()
    )

    def add(name: str, fn: Callable[..., int], help: str, description: str) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help,
            description=description,
            epilog=exit_codes(retrain=name == "retrain"),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _common(p)
        p.set_defaults(func=fn)
        return p

    p = add(
        "simulate",
        cmd_simulate,
        "generate OKPay transactions (deterministic by seed)",
        "Simulate customers, merchants and five kinds of fraud with late-arriving labels.\n"
        "Size, fraud knobs and the seed come from the `simulate` section of params.yaml.",
    )
    p.add_argument(
        "--output",
        metavar="PATH",
        help="Parquet file to write (default: simulate.output, data/raw/transactions.parquet)",
    )
    p.add_argument("--if-missing", action="store_true", help="do nothing if the output exists")

    p = add(
        "validate",
        cmd_validate,
        "check a transactions file against the canonical schema",
        "Load a CSV/Parquet file (or a Handbook folder) through a preset and print a summary:\n"
        "rows, time range, customers, merchants, fraud rate by type, label delays.",
    )
    p.add_argument("path", help="file or folder to check")
    p.add_argument("--preset", choices=list(PRESETS), help=preset_help)

    p = add(
        "features",
        cmd_features,
        "build the point-in-time feature table",
        "Compute features that use only what was known before each transaction.",
    )
    p.add_argument("--input", metavar="PATH", help="transactions (default: data.path)")
    p.add_argument("--preset", choices=list(PRESETS), help=preset_help)
    p.add_argument(
        "--output",
        metavar="PATH",
        default=FEATURES_OUT,
        help=f"Parquet file (default: {FEATURES_OUT}); with --engine dask a folder of Parquet "
        "files (default: data/interim/features/)",
    )

    p = add(
        "evaluate",
        cmd_evaluate,
        "prequential comparison of models and imbalance strategies",
        "Train every candidate in evaluate.candidates on time-ordered folds (train, delay, test)\n"
        "and print AUC, AP, Card Precision@k, recall@FPR, money caught and missed.",
    )
    p.add_argument("--output", metavar="DIR", help="plots, table and test scores (default: evaluate.output)")

    p = add(
        "train",
        cmd_train,
        "train via notebooks/02_train.ipynb under an MLflow run",
        "Run the training notebook with papermill inside an MLflow run, log metrics, plots and\n"
        "the executed notebook, register the model, promote it if it is the first.",
    )

    p = add(
        "retrain",
        cmd_retrain,
        "nightly retrain: promote the challenger only if better",
        "Train on the window ending at --as-of with labels known by then, compare with the\n"
        "champion on the latest window with known labels, promote only if better by the margin.",
    )
    p.add_argument("--as-of", required=False, metavar="DATE", help="training cutoff (default: today, UTC)")

    ml = defaults.mlflow
    look_back = _days(lookback(defaults.features))
    p = add(
        "score",
        cmd_score,
        "score new transactions and give reason codes",
        "Score new transactions (--input) with features built from their history (--history:\n"
        "the earlier payments, read like --input through data.preset). The history must cover\n"
        f"the model's look-back before the first new payment: {look_back} with the default\n"
        "features (the longest feature window, or a delayed risk window plus label_delay:\n"
        "okml.features.lookback of the model's feature params). Older history is dropped, so\n"
        "the all-history features (first device, known frauds, ...) see the look-back only;\n"
        "shorter history is taken as all there is; without --history the window features are\n"
        "approximate too. okml names the approximate features. Each payment gets a score, a\n"
        "flag at the model's operating point (the threshold chosen in training, or --top-k),\n"
        "a rank and reason codes, written to Parquet.\n"
        f"The model is models:/NAME@champion, NAME being mlflow.model_name ({ml.model_name}),\n"
        "looked up in the configured tracking store; --model takes any other.",
    )
    p.add_argument("--input", required=True, metavar="PATH", help="transactions to score")
    p.add_argument(
        "--history",
        metavar="PATH",
        help=f"earlier transactions, covering the model's look-back ({look_back} by default)",
    )
    p.add_argument(
        "--model",
        metavar="URI",
        help=f"MLflow model URI or model folder (default: models:/{ml.model_name}@champion)",
    )
    p.add_argument(
        "--output",
        metavar="PATH",
        help=f"Parquet file (default: explain.scored_dir, {defaults.explain.scored_dir}/INPUT-DAYS.parquet)",
    )
    p.add_argument(
        "--top-k",
        action="store_true",
        help="flag the top evaluate.k customers per day instead of the model's threshold",
    )

    sv = defaults.serve
    p = add(
        "serve",
        cmd_serve,
        "real-time scoring service (HTTP, 127.0.0.1)",
        "Score each payment as it arrives, with exactly the features the model was trained on:\n"
        "an online feature state (customers, merchants, devices, and the global fraud share)\n"
        "gives every payment the numbers the batch engine computes over all history.\n"
        '  POST /v1/score    one payment (canonical fields as JSON) or {"payments": [...]}\n'
        '  POST /v1/labels   {"transaction_id", "is_fraud", "source", "time"} or {"labels": [...]}\n'
        "  GET  /healthz, /metrics (Prometheus), /docs (OpenAPI)\n"
        f"Events are logged and fsynced under serve.state_dir ({sv.state_dir}) before the\n"
        "answer, with a snapshot every serve.snapshot_every events: a restart continues where\n"
        "it stopped. --warm-from builds a new state from history first (--warm-from-run: from\n"
        "the data the model's run was trained on, checked against its fingerprint). The model is\n"
        f"models:/{ml.model_name}@champion unless --model; when the alias moves the service\n"
        "swaps models between requests. Set serve.token (or OKML_SERVE_TOKEN) to require\n"
        "Authorization: Bearer TOKEN.",
    )
    p.add_argument("--port", type=int, metavar="P", help=f"port (default: serve.port, {sv.port})")
    p.add_argument("--host", metavar="ADDR", help=f"address to bind (default: serve.host, {sv.host})")
    p.add_argument("--warm-from", metavar="PATH", help="history to build a new feature state from")
    p.add_argument(
        "--warm-from-run",
        action="store_true",
        help="build a new feature state from the data the model's MLflow run was trained on",
    )
    p.add_argument(
        "--model",
        metavar="URI",
        help=f"MLflow model URI or model folder (default: models:/{ml.model_name}@champion)",
    )

    ex = defaults.explain
    p = add(
        "labels",
        cmd_labels,
        "import label events: chargebacks, user reports, reviewers' decisions",
        "okml labels import FILE checks a file of label events (CSV or Parquet) against the\n"
        "transactions of data.path and stores it under data.labels_dir; every later load of\n"
        "transactions merges them into is_fraud and label_time. Columns: transaction_id (or\n"
        "customer_id, from, to: that customer's payments in [from, to)), is_fraud (0 or 1),\n"
        "source (chargeback, review or user_report) and time (when it was said, with a\n"
        "time zone). The strongest source wins a disagreement (chargeback, then review, then\n"
        "user report; the conflicts are listed); a fraud is known from the earliest source\n"
        "that said so, and only payments after that see it in their features.",
    )
    p.add_argument("action", choices=["import"], help="what to do (import)")
    p.add_argument("file", metavar="FILE", help="label events (.csv or .parquet)")

    p = add(
        "review",
        cmd_review,
        "the review queue: a web page where reviewers decide the day's cases",
        "okml review add-reviewer NAME prints a new reviewer's token once (only its hash is\n"
        "kept). okml review [--port P] serves the queue of the newest scored file (--scored)\n"
        "on 127.0.0.1: reviewers sign in with their token, open a case (payments, reasons,\n"
        "context, its decision history) and record fraud confirmed, legitimate or needs more\n"
        "information, with a note. Decisions go to data.review_db (SQLite), are never\n"
        "overwritten, and come back as labels (source review) whenever transactions are\n"
        "loaded. Scripts: POST /api/decisions with Authorization: Bearer TOKEN.",
    )
    p.add_argument("action", nargs="?", choices=["serve", "add-reviewer"], default="serve")
    p.add_argument("name", nargs="?", metavar="NAME", help="the reviewer to add")
    p.add_argument("--scored", metavar="FILE", help="scored Parquet (default: the newest scored file)")
    p.add_argument("--port", type=int, metavar="P", help="port (default: review.port, 8766)")
    p.add_argument("--host", metavar="ADDR", help="address to bind (default: review.host, 127.0.0.1)")

    p = add(
        "rings",
        cmd_rings,
        "the groups of linked accounts active on a day (fake-order rings, 骗单)",
        "okml rings --date D lists the groups of at least 4 customers linked by the devices\n"
        "they share (and by paying the same merchant minutes apart on several days) in the\n"
        "graph of the payments of features.graph_window before the end of local day D\n"
        "(features.timezone), that paid on D; a device or merchant with more than\n"
        "features.hub_customers customers links nobody. Ranked by size, then payments of the\n"
        "day. Each has an id DAY/Gn for okml evidence --ring, its members, devices, merchants,\n"
        "payments and amounts (the day's and the graph's), the share of members with a fraud\n"
        "confirmed by then, and how many the model flagged that day (from the scored file).",
    )
    p.add_argument("--date", metavar="DATE", help="local day YYYY-MM-DD (default: the data's last day)")
    p.add_argument(
        "--scored", metavar="FILE", help="scored Parquet for the flagged members (default: the newest)"
    )
    p.add_argument("--output", metavar="FILE.csv", help="write the rings as CSV (one row per ring)")

    p = add(
        "evidence",
        cmd_evidence,
        "the evidence pack of a case, ring or merchant, for the legal team; or verify one",
        "okml evidence --case DAY/CUSTOMER | --ring DAY/Gn | --merchant ID [--output PACK.zip]\n"
        "writes one ZIP that a lawyer can hand over: a bilingual (en/zh) summary page that\n"
        "opens offline and runs no script (who, what, when, how much; the linked accounts,\n"
        "devices and merchants; a timeline; a ring's members), the payments, the alerts as\n"
        "they were raised (model version, score, reasons), the reviewers' decisions with their\n"
        "times, the victims and what they are paid back, the data fingerprint, and a manifest\n"
        "with the sha256 of every file.\n"
        "The manifest's own sha256 is printed and recorded in data/evidence/register.jsonl.\n"
        "okml evidence verify PACK.zip checks every file (and the manifest against the\n"
        "register) and names what changed; exit 1 when anything did.",
    )
    p.add_argument("action", nargs="?", choices=["build", "verify"], default="build")
    p.add_argument("pack", nargs="?", metavar="PACK.zip", help="the pack to verify")
    p.add_argument("--case", metavar="ID", help="a reviewed case, DAY/CUSTOMER (as in okml review)")
    p.add_argument("--merchant", metavar="ID", help="a merchant: all its payments, cases and victims")
    p.add_argument("--ring", metavar="ID", help="a ring of linked accounts, DAY/Gn (as okml rings lists it)")
    p.add_argument("--output", metavar="PACK.zip", help="where to write (default: data/evidence/KIND-ID.zip)")

    p = add(
        "cases",
        cmd_cases,
        "the day's cases: each customer's flagged payments as one case",
        "A reviewer's unit of work is the customer: one case is a customer's flagged payments\n"
        "of one day (features.timezone's day), ranked by its highest score, with the\n"
        "customer's other payments of the look-back as context and the reasons summed over\n"
        "the case. Prints the day's cases (the first evaluate.k of them) and, with --output,\n"
        "writes them all as CSV (one row per case).\n\n"
        "With --compensation --from D1 --to D2: the ledger finance pays victims back from, for\n"
        "the cases reviewers confirmed as fraud on local days D1..D2 (okml review): each\n"
        "customer's confirmed fraudulent payments of the look-back, and for a merchant found\n"
        "compromised its other skimmed customers'; fake orders and forged identities have no\n"
        "victim and are not paid back. A payment is listed once. Written as CSV to --output\n"
        "(default: compensation-D1_D2.csv beside data.review_db).",
    )
    p.add_argument("--date", metavar="DATE", help="local day (default: the last day with a case)")
    p.add_argument(
        "--compensation", action="store_true", help="write the compensation ledger of confirmed cases"
    )
    p.add_argument("--from", dest="start", metavar="D1", help="first local day of the ledger (YYYY-MM-DD)")
    p.add_argument("--to", dest="end", metavar="D2", help="last local day of the ledger, included")
    p.add_argument(
        "--scored",
        metavar="FILE",
        help=f"scored Parquet (default: the newest in explain.scored_dir, {ex.scored_dir})",
    )
    p.add_argument("--output", metavar="FILE.csv", help="write the day's cases (or the ledger) as CSV")

    p = add(
        "report",
        cmd_report,
        "reviewers' HTML report of a day's flagged cases",
        "Write the reviewers' report of one day of a file scored by `okml score`: the\n"
        "reviewers' local day (features.timezone), as the review queue and `okml cases` count it.\n"
        f"An HTML page with the day's explain.n_cases (default {ex.n_cases}) riskiest cases (a\n"
        "customer's flagged payments of the day), each with the reasons over the case, its\n"
        "payments and a chart of what pushed its score, after an overview of the day's alerts;\n"
        "at the end, what drives the model. It is written in explain.language (en or zh;\n"
        f"default {ex.language}), e.g. --set explain.language=zh, and is one self-contained file:\n"
        "no code, no script, readable offline. The model is the version that scored the file\n"
        "(recorded by `okml score`); a file scored by another version than --model, or by a\n"
        "model of another tracking store, is refused. It goes to\n"
        f"{ex.report_dir}/store-ID/report-DAY-MODEL-vN.html (ID: the tracking store's) unless\n"
        "--output, and is also logged to the MLflow run of the model.",
    )
    p.add_argument(
        "--date",
        metavar="DATE",
        help="local day to report, YYYY-MM-DD (default: the last whole day of the scored file)",
    )
    p.add_argument(
        "--scored",
        metavar="FILE",
        help=f"scored Parquet (default: the newest in explain.scored_dir, {ex.scored_dir})",
    )
    p.add_argument(
        "--model",
        metavar="URI",
        help=f"model that explains the scores (default: models:/{ml.model_name}@champion)",
    )
    p.add_argument(
        "--output",
        metavar="PATH",
        help=f"HTML file (default: {ex.report_dir}/store-ID/report-DAY-MODEL.html)",
    )

    mo = defaults.monitor
    p = add(
        "monitor",
        cmd_monitor,
        "watch the live model: drift, explanations, performance before the labels",
        "Monitor a model on the UTC days D1..D2: per day, the drift of its top features and of\n"
        "the input columns against its training window (PSI, Jensen-Shannon distance), of its\n"
        "scores and alert volume against its reference week (the test week of its training run),\n"
        "of its explanations (top reasons of flagged payments, mean |SHAP|), its CP@k, AP and\n"
        "recall by fraud type as labels mature (labels known by the end of D2, or --as-of), and\n"
        "its precision at the operating point estimated before the labels (calibrated\n"
        "probabilities, as NannyML's CBPE) with an interval. Runs notebooks/05_monitor.ipynb and\n"
        f"writes one self-contained HTML page (explain.language: en or zh) to {ex.report_dir}/\n"
        "store-ID/monitor-D1_D2-MODEL.html unless --output; logs every daily figure to the model's\n"
        "MLflow run as metrics monitor.* with one point per day (step: the day). Thresholds:\n"
        f"monitor.thresholds (score_psi {mo.thresholds.score_psi}, feature_psi {mo.thresholds.feature_psi}, "
        f"new_type_frauds {mo.thresholds.new_type_frauds}, ...).",
    )
    p.epilog = MONITOR_EXIT + exit_codes(retrain=False)
    p.add_argument(
        "--from", dest="start", required=True, metavar="D1", help="first monitored UTC day (YYYY-MM-DD)"
    )
    p.add_argument("--to", dest="end", required=True, metavar="D2", help="last monitored UTC day, included")
    p.add_argument(
        "--model",
        metavar="URI",
        help=f"the model watched (default: models:/{ml.model_name}@champion)",
    )
    p.add_argument("--as-of", metavar="DATE", help="labels known by the end of this day (default: D2)")
    p.add_argument("--output", metavar="PATH", help="HTML file (default: under explain.report_dir)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``okml`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    try:
        with _stop_on_signals():
            if getattr(args, "engine", None):
                args.overrides.append(f"compute.engine={args.engine}")
            params = load_params(args.params, args.overrides)
            return int(args.func(args, params) or 0)
    except OkmlError as e:
        if args.debug:
            raise
        print(f"okml {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except Stopped as e:
        runs = "".join(f"; run {r} marked KILLED" for r in e.killed_runs)
        print(f"okml {args.command}: stopped by {e.name}{runs}", file=sys.stderr)
        return 128 + e.signum
    except KeyboardInterrupt:
        print(f"okml {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
