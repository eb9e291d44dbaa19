"""The Dask cluster behind ``compute.engine: dask``: join one or start one on this machine.

``compute.dask.address`` joins a running scheduler (one a team runs with dask-kubernetes,
dask-jobqueue, Coiled or plain ``dask scheduler`` / ``dask worker``: okml needs only the
address). Without one, :func:`cluster` starts a ``LocalCluster`` sized from this machine: one
worker process per two cores, the cores shared out as threads, 80% of the memory shared by
the workers, and a spill folder (``compute.dask.spill_dir``, under ``data/``) where workers
write partitions that do not fit. Everything binds 127.0.0.1.

Nothing here runs at import: dask is loaded only when a cluster is asked for.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from okml.config import DaskParams
from okml.errors import ClusterError, OkmlError
from okml.paths import resolve

log = logging.getLogger("okml.cluster")
T = TypeVar("T")


def machine() -> tuple[int, int]:
    """Cores and total memory (bytes) of this machine (its cgroup limits where set)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    memory = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    except OSError:
        pass
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            value = Path(limit).read_text().strip()
        except OSError:
            continue
        if value.isdigit() and 0 < int(value) < (memory or 1 << 62):
            memory = int(value)
    return max(1, cores), memory or 8 << 30


def local_sizes(params: DaskParams) -> dict[str, Any]:
    """Workers, threads and memory limit of the LocalCluster okml starts."""
    cores, memory = machine()
    workers = params.n_workers or max(1, cores // 2)
    threads = params.threads_per_worker or max(1, cores // workers)
    limit: Any = params.memory_limit or int(memory * 0.8 / workers)
    return {"n_workers": workers, "threads_per_worker": threads, "memory_limit": limit}


@contextlib.contextmanager
def cluster(params: DaskParams, quiet: bool = False) -> Iterator[Any]:
    """A ``distributed.Client`` for the duration of the block (closed after, and the
    LocalCluster stopped). Prints the dashboard link unless ``quiet``.

    Raises
    ------
    ClusterError
        ``compute.dask.address`` does not answer within ``compute.dask.connect_timeout``
        seconds (one line naming the address).
    """
    import dask
    from distributed import Client, LocalCluster

    spill = resolve(params.spill_dir)
    spill.mkdir(parents=True, exist_ok=True)
    settings = {
        "temporary-directory": str(spill),
        "distributed.worker.daemon": False,  # workers may start processes of their own
        "distributed.scheduler.worker-ttl": None,
        "dataframe.convert-string": False,  # keep okml's dtypes as they are
        "distributed.admin.system-monitor.gil.enabled": False,
        "dataframe.shuffle.method": params.shuffle,
    }
    # the scheduler of a LocalCluster runs here: its notes on every shuffle are not news
    logging.getLogger("distributed.shuffle").setLevel(logging.ERROR)
    # okml's CLI logs at INFO; the scheduler's INFO lines (workers coming and going) are noise
    if logging.getLogger("distributed").getEffectiveLevel() < logging.WARNING:
        logging.getLogger("distributed").setLevel(logging.WARNING)
    with dask.config.set(settings):
        if params.address:
            try:
                client = Client(params.address, timeout=f"{params.connect_timeout}s")
            except (OSError, TimeoutError) as e:
                raise ClusterError(
                    f"cannot reach the Dask scheduler at {params.address} within "
                    f"{params.connect_timeout} s (compute.dask.address): {_first_line(e)}"
                ) from None
            local = None
        else:
            sizes = local_sizes(params)
            local = LocalCluster(
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
                processes=True,
                local_directory=str(spill),
                silence_logs=logging.WARNING,
                # imported before any task: a worker that unpickles a message while another
                # thread is still importing dask.dataframe fails with KeyError('dask.dataframe')
                preload=list(WORKER_MODULES),
                **sizes,
            )
            client = Client(local)
        client.run(_import_modules, WORKER_MODULES)  # a remote cluster's workers, too
        try:
            if not quiet:
                where = params.address or (
                    f"LocalCluster: {len(client.scheduler_info(n_workers=-1)['workers'])} workers"
                )
                print(f"dask: {where}; dashboard {dashboard_link(client)}")
            yield client
        finally:
            client.close()
            if local is not None:
                local.close()


WORKER_MODULES = (
    "pandas",
    "pyarrow",
    "dask.dataframe",
    "distributed.shuffle",
    "pandera",  # imported lazily by okml.schema: two threads importing it can deadlock
    "okml.data.partitioned",
    "okml.features.distributed",
)


def _import_modules(names: tuple[str, ...]) -> None:
    import importlib

    for name in names:
        importlib.import_module(name)


def dashboard_link(client: Any) -> str:
    """The dashboard's address, or a note that it is not served."""
    link = getattr(client, "dashboard_link", None)
    return str(link) if link else "(not served)"


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def step(name: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` (a computation on the cluster) as the step ``name``: an okml error raised
    on a worker comes back as itself; a worker that died (again and again, past
    ``distributed.scheduler.allowed-failures``) or a lost scheduler becomes one line
    naming the step."""
    from distributed import CancelledError
    from distributed.scheduler import KilledWorker

    try:
        return fn()
    except OkmlError:
        raise
    except KilledWorker as e:
        raise ClusterError(
            f"{name}: a Dask worker died while computing it, and again on retry ({_first_line(e)}); "
            "nothing was written. Workers die when they run out of memory: give them more "
            "(compute.dask.memory_limit) or smaller partitions (compute.dask.partition_rows)"
        ) from None
    except (CancelledError, TimeoutError, ConnectionError) as e:
        raise ClusterError(
            f"{name}: lost the Dask cluster ({type(e).__name__}: {_first_line(e)}); nothing was written"
        ) from None


def progress(futures: Any, quiet: bool = False) -> None:
    """Dask's progress bar in the terminal while ``futures`` run (nothing when ``quiet``)."""
    if quiet:
        return
    from distributed import progress as bar

    bar(futures)
