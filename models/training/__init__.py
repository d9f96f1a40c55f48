"""Training: shared run management (resume, metrics, DDP) and one trainer per model."""
