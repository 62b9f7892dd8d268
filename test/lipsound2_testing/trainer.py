"""ESPnet trainer settings for the tests' trainings."""

# After each epoch ESPnet's trainer draws every reported value into a PNG with matplotlib and
# writes TensorBoard logs. For the tiny models that is most of a training's time (3 epochs of
# the tiny LipSound2: about 6 s of CPU with them, under 2 s without), and no test reads them.
# A test of the trainer's own memory keeps them on: they are part of the path it measures.
NO_PLOTS = {"use_matplotlib": False, "use_tensorboard": False}
