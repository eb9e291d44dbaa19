"""Run parameters: ``params.yaml`` loaded into typed, validated models.

The file is nested by concern (``data``, ``simulate``, ``features``, ``split``, ``model``,
``evaluate``, ``explain``, ``mlflow``). Unknown keys and wrong types fail with a one-line
message naming the key path, e.g. ``model.max_dept: unknown key; did you mean max_depth?``.

Examples
--------
>>> from okml.config import load_params
>>> params = load_params(overrides=["model.max_depth=4"])
>>> params.model.max_depth
4
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from okml.errors import ConfigError
from okml.paths import DEFAULT_PARAMS, resolve

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|min|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | int | float) -> int:
    """Parse ``"10min"``, ``"1h"``, ``"7d"``, ``"2w"`` (or plain seconds) into whole seconds."""
    if isinstance(text, bool):
        raise ValueError(f"cannot parse duration {text!r}")
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        m = _DURATION.match(str(text))
        if not m:
            raise ValueError(
                f"cannot parse duration {text!r}; use a number and a unit: "
                "s, min, h, d, w (e.g. '10min', '7d')"
            )
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    if seconds <= 0 or seconds != int(seconds):
        raise ValueError(f"duration {text!r} must be a positive whole number of seconds")
    return int(seconds)


def format_duration(seconds: int) -> str:
    """Inverse of :func:`parse_duration` for whole units: 600 -> '10min', 86400 -> '1d'."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


Duration = str | int


# ----------------------------------------------------------------------------- data
class HandbookPreset(_Section):
    label_delay_days: float = Field(7.0, ge=0, description="label_time = timestamp + this delay")


class PaysimPreset(_Section):
    start: str = Field("2026-01-01T00:00:00Z", description="UTC time of step 0")
    label_delay_days: float = Field(7.0, ge=0)


class CustomPreset(_Section):
    columns: dict[str, str] = Field(
        default_factory=dict, description="canonical column -> column in your file"
    )
    timestamp_unit: Literal["s", "ms", "us", "ns"] | None = Field(
        None, description="numeric epoch timestamps: their unit"
    )
    timezone: str | None = Field(
        None, description="timezone of naive timestamps (e.g. 'Asia/Shanghai'); None rejects them"
    )
    label_delay_days: float | None = Field(
        None, ge=0, description="fill a missing label_time as timestamp + delay"
    )


class DataParams(_Section):
    """Where the training data is and the rules it must meet."""

    path: str = Field("data/raw/transactions.parquet", description="transactions used for training")
    preset: str = Field(
        "canonical", description="input format: a preset of okml.data.presets (checked when loading)"
    )
    nonpositive_amounts: Literal["error", "drop"] = Field(
        "error",
        description="rows with amount <= 0: 'error' stops loading; 'drop' removes them and logs "
        "how many (some public data sets hold a few 0.00 payments)",
    )
    amount_min: float = Field(
        0.01,
        gt=0,
        description="smallest valid amount (one cent of the currency's unit); smaller ones are "
        "errors (amounts <= 0 follow nonpositive_amounts)",
    )
    amount_max: float = Field(
        1e9,
        gt=0,
        le=1e15,
        description="largest valid amount; larger ones are errors (a typo or a unit mix-up, and "
        "past float precision the features would overflow)",
    )
    labels_dir: str | None = Field(
        "data/labels",
        description="label events imported by `okml labels import` (chargebacks, user reports, "
        "reviews), merged into is_fraud and label_time whenever transactions are loaded; null: none",
    )
    review_db: str | None = Field(
        "data/review/review.db",
        description="the reviewers' decisions (`okml review`), merged as labels of source review "
        "whenever transactions are loaded; null: none",
    )
    handbook: HandbookPreset = HandbookPreset()
    paysim: PaysimPreset = PaysimPreset()
    custom: CustomPreset = CustomPreset()

    @model_validator(mode="after")
    def _amount_range(self) -> DataParams:
        if self.amount_min >= self.amount_max:
            raise ValueError(
                f"amount_min ({self.amount_min:g}) must be below amount_max ({self.amount_max:g})"
            )
        return self


# ------------------------------------------------------------------------- simulate
class AccountTakeover(_Section):
    victims_per_1000_customers: float = Field(15.0, ge=0)
    burst_size_mean: float = Field(10.0, gt=0, description="fraudulent payments before the block")
    amount_multiplier: float = Field(4.0, gt=0)
    burst_hours: float = Field(12.0, gt=0, description="how long the takeover lasts")


class FakeOrders(_Section):
    rings: int = Field(8, ge=0, description="colluding rings (accounts + merchant)")
    accounts_per_ring: int = Field(8, ge=1)
    devices_per_ring: int = Field(2, ge=1)
    orders_per_ring: int = Field(250, ge=0)
    active_days: float = Field(5.0, gt=0)
    amount_max: float = Field(60.0, gt=0)
    round_share: float = Field(0.7, ge=0, le=1)


class CompromisedMerchant(_Section):
    merchants: int = Field(12, ge=0)
    days: float = Field(14.0, gt=0)
    fraud_share: float = Field(0.3, ge=0, le=1)


class ForgedIdentity(_Section):
    accounts: int = Field(120, ge=0)
    payments_mean: float = Field(5.0, gt=0)
    amount_mean: float = Field(900.0, gt=0)
    within_days: float = Field(3.0, gt=0, description="spends this soon after account creation")


class NewPattern(_Section):
    """A fraud pattern that appears only from ``start_fraction`` of the period on."""

    enabled: bool = True
    start_fraction: float = Field(2 / 3, ge=0, le=1)
    victims_per_1000_customers: float = Field(20.0, ge=0)
    payments_mean: float = Field(10.0, gt=0)
    amount_mean: float = Field(45.0, gt=0)


class Labels(_Section):
    delay_days_median: float = Field(10.0, gt=0, description="chargeback/review delay")
    delay_days_max: float = Field(45.0, gt=0)
    report_share: float = Field(0.4, ge=0, le=1, description="victims who report themselves")
    report_hours_median: float = Field(18.0, gt=0)
    never_labelled_share: float = Field(0.05, ge=0, le=1)


class SimulateParams(_Section):
    seed: int = 42
    n_customers: int = Field(5000, ge=1)
    n_merchants: int = Field(2000, ge=1)
    n_days: int = Field(180, ge=1)
    start: str = Field("2026-01-01", description="first day (UTC)")
    tx_per_customer_day: float = Field(2.0, gt=0, description="mean daily payments of a customer")
    output: str = "data/raw/transactions.parquet"
    shards: int | None = Field(
        None,
        ge=1,
        description="None: one Parquet file; N: a folder at `output` of N files part-00000.parquet "
        "... made one at a time in bounded memory (blocks of 1000 customers each draw their own "
        "rows, so any N gives the same rows; they differ from the one-file rows)",
    )
    account_takeover: AccountTakeover = AccountTakeover()
    fake_orders: FakeOrders = FakeOrders()
    compromised_merchant: CompromisedMerchant = CompromisedMerchant()
    forged_identity: ForgedIdentity = ForgedIdentity()
    new_pattern: NewPattern = NewPattern()
    labels: Labels = Labels()


# ------------------------------------------------------------------------- features
class FeatureFamilies(_Section):
    calendar: bool = True
    customer_velocity: bool = True
    customer_history: bool = True
    merchant: bool = True
    merchant_risk: bool = True
    customer_fraud_history: bool = True
    merchant_fraud_history: bool = True
    ring: bool = True
    # the entity graph (okml.features.graph): the local and dask engines compute it; off by
    # default because the online service refuses a configuration that switches them on
    graph: bool = False
    compromise: bool = False
    amount: bool = True


class FeatureParams(_Section):
    families: FeatureFamilies = FeatureFamilies()
    customer_windows: list[Duration] = Field(
        ["10min", "1h", "1d", "7d", "30d"],
        description="trailing windows for the customer's payment count, sum and mean",
    )
    merchant_windows: list[Duration] = Field(
        ["1d", "7d", "30d"], description="trailing windows for merchant count, sum and fraud risk"
    )
    history_window: Duration = Field(
        "30d", description="window of the customer's own history (amount ratio, z-score, hour)"
    )
    median_payments: int = Field(
        20,
        ge=1,
        description="the customer's robust amount baseline: median of their latest payments in "
        "history_window, at most this many",
    )
    burst_window: Duration = Field(
        "7d",
        description="window of the customer's largest recent payment, compared with their "
        "median (a run of outsized payments: a stolen card or a taken-over account)",
    )
    device_window: Duration = Field("7d", description="window for other customers on a device")
    pair_window: Duration = Field("1d", description="window for customer-merchant payment counts")
    risk_smoothing: float = Field(
        20.0,
        ge=0,
        description="pseudo-count pulling a merchant's fraud share toward the global rate",
    )
    merchant_fraud_windows: list[Duration] = Field(
        ["7d", "14d", "30d"],
        description="trailing windows (by payment time) for the merchant's payments already "
        "known to be fraud",
    )
    merchant_fraud_profile_window: Duration = Field(
        "30d",
        description="window (by payment time) of the merchant's known frauds whose amounts are "
        "compared with their customers' usual amounts (ordinary-looking frauds point at the "
        "merchant, outsized ones at stolen cards)",
    )
    label_delay: Duration = Field(
        "7d",
        description="typical delay before a fraud label is known: the delayed merchant risk "
        "looks only at payments at least this old",
    )
    delayed_risk_windows: list[Duration] = Field(
        ["1d", "7d", "21d"],
        description="windows w of the delayed merchant risk: share of known frauds among the "
        "merchant's payments in (t - label_delay - w, t - label_delay]; the look-back is "
        "label_delay + the longest",
    )
    timezone: str = Field(
        "Asia/Shanghai", description="time zone of hour of day, night and weekend (IANA name)"
    )
    graph_window: Duration = Field(
        "7d",
        description="the entity graph holds the payments of this window before the start of the "
        "payment's graph_epoch, and those of the epoch before the payment",
    )
    graph_epoch: Duration = Field(
        "1d",
        description="the graph is rebuilt at the start of each epoch (UTC midnights for 1d), so "
        "its window reaches graph_window to graph_window + graph_epoch back",
    )
    hub_customers: int = Field(
        20,
        ge=1,
        description="a device or merchant with more distinct customers than this in the graph is a "
        "hub and links no one (one public terminal must not merge everyone)",
    )
    soft_gap: Duration = Field(
        "10min", description="two customers paying the same merchant this close in time co-occur"
    )
    soft_days: int = Field(
        2,
        ge=1,
        description="co-occurring at one merchant (not a hub) on this many different epochs (days) "
        "makes a soft link",
    )
    compromise_windows: list[Duration] = Field(
        ["7d", "30d"],
        description="windows of a merchant's recent customers whose later confirmed fraud points "
        "at it (the common point of compromise)",
    )

    @field_validator(
        "customer_windows",
        "merchant_windows",
        "merchant_fraud_windows",
        "delayed_risk_windows",
        "compromise_windows",
    )
    @classmethod
    def _windows(cls, v: list[Duration]) -> list[Duration]:
        seen: dict[int, Duration] = {}
        for w in v:
            s = parse_duration(w)
            if s in seen:
                raise ValueError(f"windows {seen[s]!r} and {w!r} are the same length")
            seen[s] = w
        return v

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}; use an IANA name such as 'Asia/Shanghai'") from None
        return v

    @field_validator(
        "history_window",
        "device_window",
        "pair_window",
        "label_delay",
        "burst_window",
        "merchant_fraud_profile_window",
        "graph_window",
        "graph_epoch",
        "soft_gap",
    )
    @classmethod
    def _window(cls, v: Duration) -> Duration:
        parse_duration(v)
        return v


# ---------------------------------------------------------------------------- split
class SplitParams(_Section):
    """Time-ordered folds: train window, a delay gap for late labels, then a test window.

    Day boundaries are UTC midnights. Training labels are those known when the model goes
    live (``label_time`` before the test window starts); test labels are the ground truth.
    """

    train_days: int = Field(28, ge=1)
    delay_days: int = Field(7, ge=0, description="gap for label delay between train and test")
    test_days: int = Field(7, ge=1)
    n_folds: int = Field(3, ge=1, description="prequential folds stepping back in time")
    step_days: int | None = Field(None, ge=1, description="days between folds; default test_days")
    test_end: str | None = Field(None, description="last test day (exclusive end); default: end of data")
    train_starts: list[str] | None = Field(
        None, description="explicit training start dates, one per fold (overrides n_folds)"
    )
    remove_known_compromised: bool = Field(
        True,
        description="drop from each test day the customers with a fraud (since the training "
        "start) whose label was known before that day (Handbook protocol)",
    )
    feedback: bool = Field(
        False,
        description="alert feedback (Dal Pozzolo et al. 2017): day by day over the test window the "
        "top evaluate.k customers' payments get their true label at the end of their day and later "
        "days' features see it; okml evaluate and okml retrain report CP@k with feedback beside it",
    )

    @field_validator("test_end", "train_starts", mode="before")
    @classmethod
    def _dates_as_text(cls, v: Any) -> Any:
        # YAML (and --set) read an unquoted 2018-08-22 as a date: take it as its ISO text
        import datetime as dt

        if isinstance(v, dt.date):
            return v.isoformat()
        if isinstance(v, list):
            return [d.isoformat() if isinstance(d, dt.date) else d for d in v]
        return v

    @field_validator("test_end")
    @classmethod
    def _test_end(cls, v: str | None) -> str | None:
        if v is not None:
            _check_date(v)
        return v

    @field_validator("train_starts")
    @classmethod
    def _train_starts(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            if not v:
                raise ValueError("give at least one date, or null to use n_folds")
            for d in v:
                _check_date(d)
        return v


def _check_date(text: str) -> None:
    from datetime import datetime

    try:
        datetime.fromisoformat(str(text))
    except ValueError:
        raise ValueError(f"cannot parse date {text!r}; use YYYY-MM-DD") from None


# ---------------------------------------------------------------------------- model
class ModelParams(_Section):
    kind: Literal["xgboost", "logistic", "random_forest"] = "xgboost"
    imbalance: Literal["none", "class_weight", "undersample", "smote"] = "none"
    n_estimators: int = Field(300, ge=1, description="trees (xgboost, random_forest)")
    max_depth: int = Field(6, ge=1, description="tree depth (xgboost, random_forest)")
    learning_rate: float = Field(0.1, gt=0, description="xgboost")
    subsample: float = Field(0.9, gt=0, le=1, description="xgboost row sampling per tree")
    colsample_bytree: float = Field(0.9, gt=0, le=1, description="xgboost column sampling per tree")
    min_child_weight: float = Field(1.0, ge=0, description="xgboost")
    max_bin: int = Field(
        256, ge=2, description="xgboost histogram bins per feature (more: finer split points, slower)"
    )
    min_samples_leaf: int = Field(1, ge=1, description="random_forest")
    C: float = Field(1.0, gt=0, description="logistic: inverse regularization strength")
    undersample_ratio: float = Field(0.1, gt=0, le=1, description="fraud : legit after undersampling")
    smote_ratio: float = Field(0.1, gt=0, le=1, description="fraud : legit after SMOTE oversampling")
    smote_k_neighbors: int = Field(5, ge=1, description="SMOTE neighbours (fewer if fewer frauds)")
    n_jobs: int = Field(1, ge=1)
    random_state: int = 0


class CostParams(_Section):
    review_cost: float = Field(5.0, ge=0, description="cost of reviewing one alert")
    reimbursed_share: float = Field(1.0, ge=0, le=1, description="share of missed fraud paid back")
    false_alert_cost: float = Field(2.0, ge=0, description="friction cost of flagging a good customer")


_CANDIDATE_FIXED = {"kind", "imbalance"}


class Candidate(_Section):
    kind: Literal["xgboost", "logistic", "random_forest"]
    imbalance: Literal["none", "class_weight", "undersample", "smote"] = "none"
    strategy: Literal["pooled", "feedback_ensemble"] = Field(
        "pooled",
        description="pooled: one model on the labels known at go-live; feedback_ensemble: the mean "
        "of that model's probability and one of a model trained on the alerts of the "
        "split.delay_days before each test day (Dal Pozzolo et al. 2017)",
    )
    name: str | None = Field(
        None, description="label in tables; default 'kind:imbalance' (':feedback_ensemble' added)"
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="model settings for this candidate, e.g. {max_depth: 12}"
    )

    @field_validator("overrides")
    @classmethod
    def _overrides(cls, v: dict[str, Any]) -> dict[str, Any]:
        bad = set(v) & _CANDIDATE_FIXED
        if bad:
            raise ValueError(f"set {', '.join(sorted(bad))} on the candidate, not in overrides")
        unknown = [k for k in v if k not in ModelParams.model_fields]
        if unknown:
            close = difflib.get_close_matches(unknown[0], list(ModelParams.model_fields), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ValueError(f"unknown model setting {unknown[0]!r}{hint}")
        try:
            ModelParams.model_validate(v)
        except ValidationError as e:
            err = e.errors()[0]
            raise ValueError(f"{'.'.join(map(str, err['loc']))}: {err['msg']}") from None
        return v

    @property
    def label(self) -> str:
        """Name shown in tables and files."""
        if self.name:
            return self.name
        suffix = "" if self.strategy == "pooled" else f":{self.strategy}"
        return f"{self.kind}:{self.imbalance}{suffix}"


class EvaluateParams(_Section):
    k: int = Field(10, ge=1, description="alerts (customers) the review team handles per day")
    fpr: float = Field(0.01, gt=0, lt=1, description="false-positive rate for recall@FPR")
    operating_point: Literal["top_k", "cost"] = Field(
        "top_k",
        description="top_k: flag the k riskiest customers a day; cost: the score threshold "
        "with the lowest expected cost on the end of the training window",
    )
    cost_validation_days: int = Field(
        7, ge=1, description="cost operating point: last training days held out to pick the threshold"
    )
    rings_first: bool = Field(
        False,
        description="rank every payment of a hard group of at least okml.features.graph.MIN_SIZE "
        "customers (accounts linked by devices, graph_group_size over features.graph_window) "
        "above the day's other payments: the queue order of the top_k and threshold operating "
        "points, ranking metrics and okml score; the group size is computed for the queue "
        "whether or not features.families.graph gives it to the model (data without device_id: "
        "no rings, score order)",
    )
    cost: CostParams = CostParams()
    candidates: list[Candidate] = [
        Candidate(kind="xgboost", imbalance="none"),
        Candidate(kind="xgboost", imbalance="class_weight"),
        Candidate(kind="logistic", imbalance="class_weight"),
        Candidate(kind="random_forest", imbalance="undersample"),
    ]
    select_metric: str = Field(
        "cp_at_k", description="metric (mean over folds) that picks the best candidate for plots"
    )
    output: str = "data/evaluation"

    @field_validator("candidates")
    @classmethod
    def _unique_names(cls, v: list[Candidate]) -> list[Candidate]:
        if not v:
            raise ValueError("give at least one candidate")
        labels = [c.label for c in v]
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            raise ValueError(f"candidates share the name {dup[0]!r}; give each a distinct name")
        return v


class ExplainParams(_Section):
    language: Literal["en", "zh"] = "en"
    top_reasons: int = Field(3, ge=1)
    n_cases: int = Field(50, ge=1, description="flagged cases in the reviewers' report")
    report_dir: str = "data/reports"
    scored_dir: str = "data/scored"
    waterfall_features: int = Field(
        8, ge=1, description="features with a bar of their own in each case's SHAP waterfall"
    )
    overview_rows: int = Field(
        2000,
        ge=1,
        description="payments of the day explained for the report's global importance and "
        "beeswarm (a random sample beyond this)",
    )


#: Metrics a retrain may promote on: higher is better for each (``decide`` compares with ``>``).
PROMOTABLE_METRICS = ("cp_at_k", "ap", "auc", "recall_at_fpr", "recall", "alert_precision", "caught_amount")


class MlflowParams(_Section):
    tracking_uri: str | None = Field(
        None, description="default: SQLite under mlruns/; set a server URL for a team server"
    )
    artifact_root: str = "mlruns/artifacts"
    experiment: str = "okpay-fraud"
    model_name: str = "okpay-fraud"
    promote_metric: str = Field(
        "cp_at_k",
        description="metric a challenger must beat the champion on (higher is better): "
        + ", ".join(PROMOTABLE_METRICS)
        + " or recall.<fraud_type>",
    )
    promote_margin: float = Field(0.0, ge=0)
    kernel: str = "okml"
    start_timeout: int = Field(120, ge=1)
    execution_timeout: int = Field(1800, ge=1)

    @field_validator("promote_metric")
    @classmethod
    def _promote_metric(cls, v: str) -> str:
        # a name no run logs would leave every challenger undefined: never promoted, exit 0
        name = v.replace("@", "_at_")
        if name in PROMOTABLE_METRICS or (name.startswith("recall.") and len(name) > 7):
            return v
        close = difflib.get_close_matches(name, PROMOTABLE_METRICS, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ValueError(
            f"unknown metric {v!r}; {hint}choose one of "
            f"{', '.join(PROMOTABLE_METRICS)} or recall.<fraud_type>"
        )


# -------------------------------------------------------------------------- compute
class DaskParams(_Section):
    address: str | None = Field(
        None,
        description="a running scheduler, e.g. tcp://10.0.0.5:8786 (dask-kubernetes, dask-jobqueue, "
        "Coiled); none: okml starts a LocalCluster on this machine",
    )
    n_workers: int | None = Field(None, ge=1, description="LocalCluster workers (default: one per 2 cores)")
    threads_per_worker: int | None = Field(
        None, ge=1, description="LocalCluster threads per worker (default: cores / workers)"
    )
    memory_limit: str | None = Field(
        None, description="per LocalCluster worker, e.g. 8GiB (default: 80% of RAM shared by the workers)"
    )
    spill_dir: str = Field("data/dask", description="where LocalCluster workers spill to disk")
    partition_rows: int = Field(
        1_000_000, ge=1000, description="rows per partition when okml repartitions (shuffles) data"
    )
    connect_timeout: int = Field(10, ge=1, description="seconds to wait for compute.dask.address")
    shuffle: Literal["tasks", "p2p"] = Field(
        "tasks",
        description="how partitions are shuffled: tasks (fastest here, spills with worker memory) or "
        "p2p (peer-to-peer through disk, for shuffles far larger than the cluster's memory)",
    )


class ComputeParams(_Section):
    engine: Literal["local", "dask"] = Field(
        "local", description="local: one pandas frame in this process; dask: partitions on a cluster"
    )
    dask: DaskParams = DaskParams()


class ReviewParams(_Section):
    """``okml review``: the review queue's web page (decisions go to ``data.review_db``)."""

    host: str = Field("127.0.0.1", description="address to bind (127.0.0.1: this machine only)")
    port: int = Field(8766, ge=1, le=65535)


class ServeParams(_Section):
    host: str = Field("127.0.0.1", description="address the scoring service binds (0.0.0.0: every interface)")
    port: int = Field(8765, ge=0, le=65535, description="its port (0: any free one)")
    model: str | None = Field(None, description="model URI; default models:/<registered_model>@champion")
    token: str | None = Field(
        None, description="bearer token the service requires (default: $OKML_SERVE_TOKEN, else none)"
    )
    state_dir: str = Field(
        "data/serve", description="the feature state's snapshot and write-ahead log (embedded store)"
    )
    store: Literal["local", "redis"] = Field(
        "local", description="local: snapshot + log on this disk; redis: shared by several processes"
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="the Redis of store=redis")
    horizon: Duration = Field(
        "180d", description="how long labels are awaited: a later label no longer changes features"
    )
    snapshot_every: int = Field(
        100_000, ge=1, description="events between snapshots of the state (the log replays the rest)"
    )
    max_body_bytes: int = Field(1_000_000, ge=1024, description="larger request bodies get HTTP 413")
    max_batch: int = Field(1000, ge=1, description="payments or labels per request")
    poll_seconds: float = Field(
        10.0, gt=0, description="how often the service asks the registry whether its alias moved"
    )


class MonitorThresholds(_Section):
    """``okml monitor`` exits 1 when one of these is crossed on a monitored day (null: off)."""

    feature_psi: float | None = Field(
        0.25,
        ge=0,
        description="PSI of one of the model's top_features against the training window, above "
        "this and above the feature's own day-to-day band (band_sd)",
    )
    input_psi: float | None = Field(
        0.25, ge=0, description="the same for amount, channel, merchant category and new devices"
    )
    score_psi: float | None = Field(
        0.25, ge=0, description="PSI of the day's scores against the reference week"
    )
    alert_ratio: float | None = Field(
        3.0,
        gt=1,
        description="flagged payments over the trailing window_days more than this many times (or "
        "less than 1/this) the reference week's, and unlikely by chance (alert_p)",
    )
    top_reason_shift: float | None = Field(
        0.75,
        ge=0,
        le=1,
        description="total variation distance of the flagged payments' top-reason groups from the "
        "reference week's (days with min_flagged flagged payments)",
    )
    top_factors_changed: int | None = Field(
        2,
        ge=1,
        le=3,
        description="this many of the reference's top-3 features by mean |SHAP| out of the day's top 3",
    )
    precision_drop: float | None = Field(
        0.2,
        ge=0,
        le=1,
        description="estimated precision at the operating point this far below the reference week's",
    )
    type_recall_p: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="a fraud type's recall of victims over the trailing window_days (labels known so "
        "far) below its reference recall by recall_drop, with a one-sided binomial p-value below this",
    )
    new_type_frauds: int | None = Field(
        5,
        ge=1,
        description="this many labelled frauds of a type the training window and reference week never "
        "had, fewer than new_type_recall of them caught",
    )


class MonitorParams(_Section):
    """``okml monitor``: drift of data, scores and explanations, and performance before labels."""

    thresholds: MonitorThresholds = MonitorThresholds()
    bins: int = Field(10, ge=2, description="quantile bins of a numeric feature (PSI, JS distance)")
    score_bins: int = Field(20, ge=2, description="quantile bins of the scores")
    band_sd: float = Field(
        3.0, ge=0, description="a feature's band: mean + band_sd x sd of its training days' own PSI"
    )
    top_features: int = Field(10, ge=1, description="features watched for drift: the top by mean |SHAP|")
    window_days: int = Field(3, ge=1, description="trailing days of the alert-volume and recall signals")
    alert_p: float = Field(
        0.01, gt=0, le=1, description="two-sided Poisson p-value an alert_ratio alarm needs"
    )
    min_flagged: int = Field(10, ge=1, description="flagged payments a day needs for its top-reason shares")
    min_frauds: int = Field(5, ge=1, description="labelled frauds a type needs in the window for its recall")
    recall_drop: float = Field(
        0.3, ge=0, le=1, description="the least drop in recall a type_recall_p alarm needs"
    )
    new_type_recall: float = Field(
        0.5, ge=0, le=1, description="a new_type_frauds alarm: the type's recall is below this"
    )
    interval: float = Field(0.9, gt=0, lt=1, description="coverage of the estimated precision's interval")
    calibration: Literal["reference", "rolling"] = Field(
        "reference",
        description="estimated precision: calibrate the scores on the reference week (labels known at the "
        "run), or afresh each day on the calibration_days days ending calibration_lag_days before it "
        "(less the training window's), with only the labels known before that day",
    )
    calibration_days: int = Field(14, ge=1, description="rolling calibration: days it is fitted on")
    calibration_lag_days: int = Field(
        7, ge=1, description="rolling calibration: the least age (days) of a day it is fitted on"
    )
    shap_rows: int = Field(200, ge=10, description="payments a day sampled for mean |SHAP| (exact TreeSHAP)")
    reference_days: int = Field(
        7, ge=1, description="a model without a training fold: the days before --from are its baseline"
    )
    seed: int = 0


class Params(_Section):
    data: DataParams = DataParams()
    simulate: SimulateParams = SimulateParams()
    features: FeatureParams = FeatureParams()
    split: SplitParams = SplitParams()
    model: ModelParams = ModelParams()
    evaluate: EvaluateParams = EvaluateParams()
    explain: ExplainParams = ExplainParams()
    mlflow: MlflowParams = MlflowParams()
    compute: ComputeParams = ComputeParams()
    serve: ServeParams = ServeParams()
    review: ReviewParams = ReviewParams()
    monitor: MonitorParams = MonitorParams()

    def flat(self) -> dict[str, Any]:
        """Parameters flattened to ``section.key`` for MLflow."""
        return flatten(self.model_dump(mode="json"))


# --------------------------------------------------------------------------- loading
def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"max_depth": 4}}`` -> ``{"model.max_depth": 4}``."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _model_at(path: tuple[Any, ...]) -> type[BaseModel] | None:
    model: Any = Params
    for part in path:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return None
        model = field.annotation
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _format_error(err: dict[str, Any], source: str) -> str:
    loc = tuple(p for p in err["loc"] if not isinstance(p, int) or True)
    if not loc and err["type"] == "value_error":  # a check across sections: its message names them
        return f"{source}: {err['msg'].removeprefix('Value error, ')}"
    key = ".".join(str(p) for p in loc)
    if err["type"] == "extra_forbidden":
        parent = _model_at(loc[:-1])
        hint = ""
        if parent is not None:
            close = difflib.get_close_matches(str(loc[-1]), list(parent.model_fields), n=1)
            if close:
                hint = f"; did you mean {close[0]}?"
            else:
                hint = f"; known keys: {', '.join(parent.model_fields)}"
        return f"{source}: {key}: unknown key{hint}"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return f"{source}: {key}: {msg} (got {err.get('input')!r})"


def _set_path(d: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    cur = d
    for p in parts[:-1]:
        nxt = cur.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"--set {dotted}: '{p}' is not a section")
        cur = nxt
    cur[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """``"model.max_depth=4"`` -> ``("model.max_depth", 4)`` (the value is read as YAML)."""
    if "=" not in text:
        raise ConfigError(f"--set {text}: expected KEY=VALUE, e.g. model.max_depth=4")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def params_from_dict(raw: dict[str, Any], source: str = "params") -> Params:
    """Validate a nested dict into :class:`Params`; raise :class:`ConfigError` on the first problem."""
    try:
        return Params.model_validate(raw)
    except ValidationError as e:
        errors = e.errors()
        first = _format_error(dict(errors[0]), source)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(first + more) from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping (YAML keeps the last)."""


def _no_duplicate_keys(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: merged by the loader
            continue
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:
            raise ConfigError(f"line {line}: a key must be a name, not {type(key).__name__}") from None
        if key in seen:
            raise ConfigError(
                f"line {line}: key {key!r} is given twice (first on line {seen[key]}); "
                "keep one, YAML would silently use the last"
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicate_keys)


def read_yaml(file: Path) -> Any:
    """Parse a YAML file, or raise a one-line :class:`ConfigError` naming the file and line.

    Rejects text that is not UTF-8 and mappings with a key given twice.
    """
    try:
        data = file.read_bytes()
    except OSError as e:
        raise ConfigError(f"{file}: cannot read params file ({e.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ConfigError(
            f"{file}: line {line}: not UTF-8 text (byte 0x{data[e.start]:02x} at "
            f"offset {e.start}); save the file as UTF-8"
        ) from None
    try:
        return yaml.load(text.removeprefix("\ufeff"), Loader=_UniqueKeyLoader)
    except ConfigError as e:
        raise ConfigError(f"{file}: {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{file}:{where} not valid YAML ({getattr(e, 'problem', e)})") from None


def load_params(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Params:
    """Load ``params.yaml`` (default: the project's), apply ``KEY=VALUE`` overrides, validate.

    Parameters
    ----------
    path:
        YAML file; relative paths are taken from the project root. ``None`` uses the
        project's ``params.yaml``, or built-in defaults if it does not exist.
    overrides:
        ``"section.key=value"`` strings, as given to ``--set``; values are parsed as YAML.
    """
    raw: dict[str, Any] = {}
    source = "params"
    if path is not None or DEFAULT_PARAMS.exists():
        file = resolve(path) if path is not None else DEFAULT_PARAMS
        source = str(file)
        raw = read_yaml(file) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{file}: expected a mapping of sections at the top level")
    for item in overrides:
        key, value = parse_override(item)
        _set_path(raw, key, value)
    return params_from_dict(raw, source)


def dump_params(params: Params) -> str:
    """Params as YAML text (what a run actually used)."""
    return yaml.safe_dump(params.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
