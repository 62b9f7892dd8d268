"""The LipSound2 network, one module per part of the paper's Fig. 2."""
