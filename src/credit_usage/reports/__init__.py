"""Turning results into what people open: CSV files, and the report and alert emails."""
