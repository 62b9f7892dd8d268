"""The smallest LipSound2 network settings that keep every part of the paper's network (CNN
and BiLSTM encoder, location-aware attention decoder with its PreNet, postnet).

They are for running the code paths, not for results: the tests train and decode with them in
seconds, and ``bench/gpu_check.py --dry_run_cpu`` runs its GPU checks on a CPU with them. One
definition, so the dry run exercises the same model the tests do.
"""

from __future__ import annotations

TINY_MODEL_CONF: dict = {
    "encoder_conf": {"channels": [4, 8, 8], "dropout": 0.0, "lstm_units": 16},
    "decoder_conf": {
        "prenet_sizes": [32, 16],
        "prenet_dropout": 0.5,
        "attention_lstm_units": 64,
        "decoder_lstm_units": 64,
        "attention_size": 16,
        "location_filters": 4,
        "location_kernel": 5,
        "lstm_dropout": 0.0,
    },
    "postnet_conf": {"channels": 16, "dropout": 0.0},
}
