"""A minimal Django Channels app doing what Watercooler does on the benchmark's workloads."""
