"""Every config the project reads itself fails the same clear way on a malformed file."""

from __future__ import annotations

import pytest

from lipsound2.asr.finetune import finetune_config
from lipsound2.fileio.yamlio import load_yaml
from lipsound2.frontend.config import load_config as load_frontend_config
from lipsound2.tasks.checkpoint import load_model
from lipsound2.vocoders.factory import load_config as load_vocoder_config

READERS = {
    "plain": load_yaml,
    "frontend": load_frontend_config,
    "vocoder": load_vocoder_config,
    "asr finetune": lambda path: finetune_config(path, {}),
    "lipsound2 experiment": lambda path: load_model(path, path),
}


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
def test_a_list_at_the_top_level_is_refused_naming_the_file(reader, tmp_path):
    path = tmp_path / "my conf.yaml"
    path.write_text("- n_mels: 80\n- hop_length: 256\n")
    with pytest.raises(ValueError, match=r"my conf\.yaml: expected a mapping at the top level, got list"):
        reader(path)


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
def test_broken_yaml_is_refused_naming_the_file(reader, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("mel: {hop_length: 256\n")
    with pytest.raises(ValueError, match=r"broken\.yaml: not valid YAML"):
        reader(path)


def test_empty_file_is_an_empty_mapping(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing set\n")
    assert load_yaml(path) == {}
    assert load_frontend_config(path) == load_frontend_config(None)
