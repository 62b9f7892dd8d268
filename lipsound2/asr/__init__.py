"""The cascaded lip reader: ESPnet ASR on generated speech."""
