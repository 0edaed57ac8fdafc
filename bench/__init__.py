"""The CitySafety benchmark (`make bench`, `python -m bench --help`)."""
