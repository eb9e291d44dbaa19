"""Jobs: the only place that wires the steps together (data -> features -> models -> evaluate /
explain), runs notebooks and talks to MLflow through :mod:`okml.tracking`.

=================  =================================================================
module             job
=================  =================================================================
``data``           the training data of a job (simulated first when missing)
``train``          ``okml train`` and ``okml retrain``: runs, registry, promotion
``evaluate``       ``okml evaluate``: candidates compared on prequential folds
``score``          ``okml score``: a file of new payments scored with its history
``report``         ``okml report``: the reviewers' report, notebook -> HTML
``notebooks``      papermill on the ``okml`` kernel, stopping it cleanly; HTML export
=================  =================================================================

Nothing below this package imports it; the CLI and the notebooks call it.
"""
