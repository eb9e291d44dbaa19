"""okml."""
