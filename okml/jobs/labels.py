"""``okml labels import FILE``: chargebacks, user reports and reviewers' decisions as labels."""

from __future__ import annotations

from pathlib import Path

from okml.config import Params
from okml.errors import ConfigError
from okml.paths import resolve


def labels_import_cli(params: Params, file: str) -> int:
    """Check ``file`` against the transactions of ``data.path``, store it under
    ``data.labels_dir`` and say what it changes (payments, sources, conflicts)."""
    from okml.data.labels import label_sources, merge_labels, read_label_events, store_label_events
    from okml.data.loading import label_paths
    from okml.jobs.data import load_transactions

    if not params.data.labels_dir:
        raise ConfigError("data.labels_dir is null: set it to a folder to import labels into")
    # the transactions with their own labels only: the conflicts below are of every source
    # merged once, as okml.data.load merges them (a second merge would take the first's
    # results for the data's own labels)
    own = params.model_copy(
        update={"data": params.data.model_copy(update={"labels_dir": None, "review_db": None})}
    )
    tx = load_transactions(own, progress=False)
    events = read_label_events(resolve(file), tx)
    path = store_label_events(events, resolve(params.data.labels_dir), Path(file).name)
    everything = label_sources(*label_paths(params.data))
    merged = merge_labels(tx, everything) if everything is not None else None
    by_source = events.groupby("source")["is_fraud"].agg(["size", "sum"])
    parts = [f"{src}: {int(r['size'])} ({int(r['sum'])} fraud)" for src, r in by_source.iterrows()]
    print(f"imported {len(events):,} label events from {file} into {path} ({', '.join(parts)})")
    if merged is not None and len(merged.conflicts):
        print(f"{len(merged.conflicts)} payments with disagreeing sources (the strongest wins):")
        for _, c in merged.conflicts.head(10).iterrows():
            print(f"  {c['transaction_id']}: {c['verdict']} ({c['by']})")
    print("okml train, okml retrain and the features now read them (label_time: when each was known)")
    return 0
