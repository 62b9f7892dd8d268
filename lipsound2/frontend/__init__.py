"""Audio-visual front end: decoding, face detection, tracking, cropping, mel features."""
