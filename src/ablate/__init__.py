"""Mini Transformer Lab: config-driven, cached, deterministic transformer ablation studies."""
