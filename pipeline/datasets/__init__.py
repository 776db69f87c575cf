"""Road datasets: the synthetic default set, converters, checks."""
