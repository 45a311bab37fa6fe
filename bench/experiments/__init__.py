"""What-if variants the report runs beside the real thing, each clearly labelled as such."""
