"""The real corpora: readers of their release layouts, GRID's naming, Kaldi data directories."""
