"""Run-record schema and store, comparison tables, plots and paper-reported numbers."""
