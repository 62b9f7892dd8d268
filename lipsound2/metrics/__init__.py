"""Speech quality, intelligibility and recognition metrics."""
