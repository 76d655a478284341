"""Training one run: schedule, loop, evaluation, probes and the run's output files."""
