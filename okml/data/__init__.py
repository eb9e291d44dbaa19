"""Loading transactions users already have into the canonical schema.

:func:`load` reads a file or a folder of files through a *preset* (a column mapping, one
module each under :mod:`okml.data.presets`) and returns canonical transactions
(:mod:`okml.schema`) sorted by time. No later step knows about file formats or presets.

Security: unpickling a file can run arbitrary code. Pickles (``.pkl``, ``.pickle``) are read
only by presets that declare it (the ``handbook`` preset, whose published data comes as
pickles); load only pickles you trust. Every other preset refuses them.
"""

from okml.data.loading import load
from okml.data.presets import PRESETS
from okml.data.summary import format_validation_summary, print_validation_summary

__all__ = ["PRESETS", "format_validation_summary", "load", "print_validation_summary"]
