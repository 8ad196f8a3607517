"""Effect and comparison: what the money achieved, with its uncertainty.

Pure formulas over pandas frames (formulas, funnel, suppression, advice, forecast) and the
queries and services that feed them. Sits between reports and outcomes."""
