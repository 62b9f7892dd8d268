"""The tiny ESPnet ASR config the ASR tests train."""

from lipsound2_testing.trainer import NO_PLOTS

TINY_ASR_CONF = {
    "frontend": "default",
    "frontend_conf": {"n_fft": 512, "hop_length": 160, "n_mels": 40},
    "normalize": "utterance_mvn",
    "encoder": "transformer",
    "encoder_conf": {"output_size": 32, "attention_heads": 2, "linear_units": 64, "num_blocks": 1},
    "decoder": "transformer",
    "decoder_conf": {"attention_heads": 2, "linear_units": 64, "num_blocks": 1},
    "model_conf": {"ctc_weight": 0.3},
    "batch_type": "unsorted",
    "batch_size": 8,
    "max_epoch": 2,
    "num_workers": 0,
    "optim": "adam",
    "optim_conf": {"lr": 0.002},
    "best_model_criterion": [["valid", "acc", "max"]],
    "keep_nbest_models": 1,
    "num_att_plot": 0,
    **NO_PLOTS,
}
