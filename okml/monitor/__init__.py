"""Monitoring the live model: drift of data, scores and explanations, performance as labels
mature, and precision estimated before they arrive.

============================  ===============================================================
module                        what it holds
============================  ===============================================================
``stats``                     PSI, Jensen-Shannon distance, calibration (isotonic), the
                              Poisson binomial interval, label completeness, the tests
``signals``                   the daily signals of a model (:func:`analyse`) and the alarms
``render``                    the monitoring page's words (en/zh), charts and HTML pieces
============================  ===============================================================

The analysis takes frames and returns frames; loading the data and the model, scoring, the
notebook and MLflow are :mod:`okml.jobs.monitor`'s (``okml monitor``).
"""

from okml.monitor.signals import (
    Alarm,
    MonitorInputs,
    MonitorResult,
    Windows,
    analyse,
    day_of,
    top_reason_group,
)

__all__ = ["Alarm", "MonitorInputs", "MonitorResult", "Windows", "analyse", "day_of", "top_reason_group"]
