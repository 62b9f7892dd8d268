"""ESPnet task classes that train and run the networks."""
