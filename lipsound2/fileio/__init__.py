"""Reading and writing Kaldi-style scp/ark files, text tables and face-track media."""
