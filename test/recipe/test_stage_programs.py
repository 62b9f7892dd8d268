"""The stage programs the stage script calls for what a step reads and runs (lipsound2.bin.*_plan),
their shared helpers (lipsound2.recipe.plan) and the help list made from option declarations."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lipsound2.bin import config_query, decode_plan, report_plan, train_plan, units_plan, vocoder_plan
from lipsound2.recipe.marker import StepKey, mark
from lipsound2.recipe.plan import PlanError, merge_job_tables, print_lines
from lipsound2.vocoders.types import TRAINED_TYPES, VOCODER_TYPES


def _pairs(options: list[str]) -> list[tuple[str, str]]:
    """``--name value`` pairs of a key."""
    return list(zip(options[::2], options[1::2], strict=True))


def test_train_key_names_the_init_models_and_the_decoders_statistics(tmp_path: Path):
    av, audio = tmp_path / "av model" / "model.pth", tmp_path / "audio" / "valid.loss.best.pth"
    for model in (av, audio):
        model.parent.mkdir()
        model.write_bytes(b"weights")
    (audio.parent / "feats_stats.npz").write_bytes(b"stats")
    config = tmp_path / "train.yaml"
    config.write_text("model_conf: {unit_weight: 0.5}\n")
    argv = ["key", "--kind", "av", "--exp", "exp/x", "--config", str(config), "--train_set", "tr",
            "--valid_set", "dv", "--dumpdir", "dump", "--lipsound2_config", str(config),
            "--frontend_config", "fe.yaml", "--init_model", str(av), "--decoder_model", str(audio),
            "--", "--max_epoch", "3"]  # fmt: skip
    key = _pairs(train_plan.key(train_plan.parse_args(argv)))
    opts = [value for name, value in key if name == "--opt"]
    assert (
        f"args=--init_param {av}:::num_updates {audio}:decoder:decoder {audio}:postnet:postnet "
        f"{audio}:normalize:normalize --max_epoch 3" in opts
    )
    files = {value for name, value in key if name == "--file"}
    assert files == {str(av), str(audio), str(audio.parent / "feats_stats.npz")}
    tables = [value for name, value in key if name == "--table"]
    assert "dump/tr/units.scp" in tables and "dump/dv/video.scp" in tables  # a unit head reads units


def test_train_plan_keeps_arguments_after_the_separator_untouched():
    argv = ["setup", "--kind", "audio", "--exp", "e", "--config", "c", "--train_set", "t",
            "--valid_set", "v", "--dumpdir", "d", "--lipsound2_config", "c", "--frontend_config", "f",
            "--", "--seed", "7"]  # fmt: skip
    args = train_plan.parse_args(argv)
    assert args.trainer_args == ["--seed", "7"] and args.seed == "0"


@pytest.mark.parametrize("vocoder_type", VOCODER_TYPES)
def test_every_factory_type_passes_the_stage_scripts_check(vocoder_type: str):
    assert config_query.answer("vocoder_training", vocoder_type) == str(vocoder_type in TRAINED_TYPES).lower()


def test_an_unknown_vocoder_type_is_refused_with_the_factorys_list(capsys):
    assert config_query.main(["vocoder_training", "waveglow"]) == 2
    err = capsys.readouterr().err
    assert "waveglow" in err and all(name in err for name in VOCODER_TYPES)


def _vocoder_args(tmp_path: Path, vocoder_type: str, *extra: str):
    argv = ["vocode_key", "--vocoder_type", vocoder_type, "--vocoder_config", "conf/vocoder.yaml",
            "--dumpdir", str(tmp_path / "dump"), "--train_set", "train", *extra]  # fmt: skip
    return vocoder_plan.get_parser().parse_args(argv)


def test_vocoding_keys_an_untrained_type_on_its_config_section_and_a_trained_one_on_its_checkpoint(
    tmp_path: Path,
):
    key, args = vocoder_plan.vocode_inputs(_vocoder_args(tmp_path, "griffin_lim", "--feats", "d/feats.scp"))
    assert ("--sections", "vocoder=griffin_lim") in _pairs(key) and "--vocoder_file" not in args
    assert args[-2:] == ["--frontend_config", "d/frontend.yaml"]
    extra = ("--feats", "d/feats.scp", "--vocoder_file", "exp/v/vocoder.pth")
    key, args = vocoder_plan.vocode_inputs(_vocoder_args(tmp_path, "hifigan", *extra))
    assert ("--file", "exp/v/vocoder.pth") in _pairs(key) and "--conf" not in key
    assert args[args.index("--vocoder_file") + 1] == "exp/v/vocoder.pth"


def test_a_units_vocoder_names_the_units_it_misses(tmp_path: Path):
    feats = tmp_path / "decode dir" / "feats.scp"
    with pytest.raises(PlanError, match="decode dir/units.scp"):
        vocoder_plan.vocode_inputs(_vocoder_args(tmp_path, "hifigan_units", "--feats", str(feats)))
    with pytest.raises(PlanError, match="not trained here"):
        vocoder_plan.train_inputs(_vocoder_args(tmp_path, "griffin_lim"))


def test_report_rows_take_the_extra_experiments_and_the_decode_dir_name():
    argv = ["key", "--expdir", "exp", "--dumpdir", "dump", "--train_exp", "exp/t", "--train_tag", "t",
            "--test_sets", "a b", "--inference_tag", "inf", "--score_label", "Mine", "--vocoder_type",
            "griffin_lim", "--score_extra_exps", "Other=exp/o/{decode}; ;Third=exp/{set}_x",
            "--train_config", "c", "--inference_config", "i", "--vocoder_config", "v", "--asr_config", "a",
            "--asr_finetune_config", "f"]  # fmt: skip
    args = report_plan.get_parser().parse_args(argv)
    rows = report_plan.rows(args)
    assert rows[3] == "Mine=exp/t/decode_{set}_inf" and rows[4:] == [
        "Other=exp/o/decode_{set}_inf",
        "Third=exp/{set}_x",
    ]
    assert report_plan.row_dir(rows[4], "b") == "exp/o/decode_b_inf"
    assert report_plan.note(args).startswith("Vocoder: griffin_lim. PESQ (NB)")


def test_the_report_refuses_audio_of_another_vocoder_than_it_would_name(tmp_path: Path):
    """Stage 6 run with --vocoder_type hifigan_pretrained, stage 8 without: the report would call
    that audio Griffin-Lim's."""
    exp = tmp_path / "exp" / "t"
    for name in ("oracle_a", "decode_a_inf"):
        vocode = StepKey(opts=[("vocoder_type", "hifigan_pretrained")]).build()
        mark(exp / name, "vocode", vocode)
    argv = ["steps", "--expdir", str(tmp_path / "exp"), "--dumpdir", "dump", "--train_exp", str(exp),
            "--train_tag", "t", "--test_sets", "a", "--inference_tag", "inf", "--score_label", "Mine",
            "--judges", "none", "--train_config", "c", "--inference_config", "i", "--vocoder_config", "v",
            "--asr_config", "a", "--asr_finetune_config", "f", "--vocoder_type"]  # fmt: skip
    with pytest.raises(
        PlanError, match=r"oracle_a was vocoded with hifigan_pretrained.*--vocoder_type griffin_lim"
    ):
        report_plan.steps(report_plan.get_parser().parse_args([*argv, "griffin_lim"]))
    report_plan.steps(report_plan.get_parser().parse_args([*argv, "hifigan_pretrained"]))


def test_the_report_quotes_the_training_as_it_ran(tmp_path: Path):
    """RESULTS.md names the experiment's config.yaml (what trained the model), not
    --train_config, which may have been edited since; an edit of it alone remakes nothing."""
    exp = tmp_path / "exp" / "t"
    exp.mkdir(parents=True)
    (exp / "config.yaml").write_text("optim_conf: {lr: 0.003}\n")
    edited = tmp_path / "train.yaml"
    edited.write_text("optim_conf: {lr: 0.002}\n")
    argv = ["args", "--expdir", str(tmp_path / "exp"), "--dumpdir", "dump", "--train_exp", str(exp),
            "--train_tag", "t", "--test_sets", "a", "--inference_tag", "inf", "--score_label", "Mine",
            "--vocoder_type", "griffin_lim", "--train_config", str(edited), "--inference_config", "i",
            "--vocoder_config", "v", "--asr_config", "a", "--asr_finetune_config", "f"]  # fmt: skip
    args = report_plan.get_parser().parse_args(argv)
    confs = [value for name, value in _pairs(report_plan.report_args(args)[2:]) if name == "--conf"]
    assert confs[0] == f"{exp}/config.yaml" and str(edited) not in confs
    assert str(edited) not in report_plan.key(args)


def test_job_tables_merge_sorted_with_one_header(tmp_path: Path):
    for n, rows in ((1, ["b 2", "a 1"]), (2, ["c 3"])):
        (tmp_path / f"t.{n}.tsv").write_text("\n".join(["key value", *rows]) + "\n")
    merge_job_tables(str(tmp_path / "t.JOB.tsv"), 2, tmp_path / "all.tsv", header=True)
    assert (tmp_path / "all.tsv").read_text() == "key value\na 1\nb 2\nc 3\n"
    with pytest.raises(PlanError):
        print_lines(["two\nlines"])


def test_the_help_list_comes_from_the_option_declarations(tmp_path: Path, root: Path):
    script = tmp_path / "options.sh"
    script.write_text(
        "# Group one\n"
        'alpha=""           # The first option,\n'
        "                   # on two lines.\n"
        "beta=3             # The second.\n"
        "\n"
        "# Not a group: no option follows\n"
        "help_message=x\n"
        "gamma=1            # after the help: not listed\n"
    )
    out = subprocess.run(
        ["bash", "-c", f'. "{root}/utils/stage_lib.sh" && option_help "$1"', "_", str(script)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.splitlines() == [
        "",
        "Group one",
        "  --alpha                      The first option,",
        "                               on two lines.",
        "  --beta                       The second. [3]",
    ]


TRAIN_ARGV = ["key", "--exp", "", "--config", "c", "--train_set", "t", "--valid_set", "",
              "--dumpdir", "d", "--frontend_config", "f"]  # fmt: skip


@pytest.mark.parametrize(
    ("program", "argv", "named"),
    [
        (units_plan, ["key", "--unit_type", "", "--unit_k", "200"], "--unit_type"),
        (decode_plan, ["key", "--decode_dir", "d", "--ref_dir", ""], "--ref_dir"),
        (train_plan, TRAIN_ARGV, "--exp, --valid_set"),
    ],
)
def test_an_empty_required_value_is_a_usage_error_naming_the_option(program, argv, named, capsys):
    """The stage script passes shell variables: an empty one must not stand for a path."""
    with pytest.raises(SystemExit) as exc:
        program.main(argv)
    assert exc.value.code == 2
    assert f"empty value for {named}" in capsys.readouterr().err
