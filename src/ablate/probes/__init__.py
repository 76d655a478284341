"""Training diagnostics: gradient norms, spike detection, attention statistics, run status."""
