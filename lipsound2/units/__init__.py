"""Discrete speech units: frame features of a content encoder, clustered by k-means.

:mod:`lipsound2.units.encoders` turns an utterance into frame features behind one interface
(log-mel, MFCC, or a HuBERT / wav2vec 2.0 checkpoint the user brings) and puts any frame rate
on the mel's frames; :mod:`lipsound2.units.kmeans` fits, saves and applies the k-means model.
The recipe step is ``python -m lipsound2.bin.extract_units`` (see ``docs/units.md``).
"""
