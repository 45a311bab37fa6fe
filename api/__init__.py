"""Watercooler's Django project: the board REST API and the Django side of the realtime protocol."""
