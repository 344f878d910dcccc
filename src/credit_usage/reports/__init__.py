"""Turning results into files people open: CSV today, email later."""
