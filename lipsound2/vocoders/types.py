"""The vocoder type names, apart from the vocoders: the stage programs that only check a name
(``vocoder_plan``, ``config_query``) start without importing torch."""

VOCODER_TYPES = ("griffin_lim", "hifigan", "hifigan_units", "hifigan_pretrained")
TRAINED_TYPES = ("hifigan", "hifigan_units")  # these need a checkpoint (--vocoder_file)
UNIT_TYPES = ("hifigan_units",)  # these are called with the units beside the mel
