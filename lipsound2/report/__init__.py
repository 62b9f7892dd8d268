"""RESULTS.md tables and the HTML experiment report."""
