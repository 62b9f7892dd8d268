from lipsound2.report.training import best_validation, experiment_of

LOG = """\
[vm] 2026-11-21 09:18:01,017 (trainer:336) INFO: 1/3epoch started
[vm] 2026-11-21 09:18:22,964 (trainer:394) INFO: 1epoch results: [train] iter_time=0.995, dec_loss=2.381, \
loss=3.759, time=20.13 seconds, total_count=10, [valid] dec_loss=1.583, post_loss=2.736, \
guided_attn_loss=0.002, loss=4.321, time=1.81 seconds, total_count=1
[vm] 2026-11-21 09:18:54,678 (trainer:394) INFO: 2epoch results: [train] dec_loss=1.9, loss=3.1, \
[valid] dec_loss=1.2e+00, post_loss=0.9, loss=2.1, time=2.27 seconds
[vm] 2026-11-21 09:19:20,352 (trainer:394) INFO: 3epoch results: [train] dec_loss=1.5, loss=2.5, \
[valid] dec_loss=1.3, post_loss=1.0, loss=2.3
"""


def test_best_validation_takes_the_epoch_with_the_lowest_valid_loss(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(LOG)
    best = best_validation(log)
    assert best["epoch"] == 2
    assert best["dec_loss"] == 1.2 and best["post_loss"] == 0.9 and best["loss"] == 2.1


def test_no_log_or_no_results(tmp_path):
    assert best_validation(tmp_path / "missing.log") is None
    (tmp_path / "train.log").write_text("started\n")
    assert best_validation(tmp_path / "train.log") is None


def test_only_decode_dirs_belong_to_an_experiment(tmp_path):
    # decode_<set>_<inference tag>, as stage 5 names them, and the older decode_<set>
    assert experiment_of(tmp_path / "exp" / "decode_test_inference_valid.loss.best") == tmp_path / "exp"
    assert experiment_of(tmp_path / "exp" / "decode_test") == tmp_path / "exp"
    assert experiment_of(tmp_path / "exp" / "oracle_test") is None
    assert experiment_of(tmp_path / "exp" / "asr_finetune_inference_valid.loss.best") is None


def test_training_table_separates_eq5_from_the_training_objective():
    from lipsound2.report.results import Results, tables

    res = Results(["test"], ["a"], {"a": {}}, {"a": {}}, "wer")
    res.training["a"] = {"epoch": 9.0, "dec_loss": 0.281, "post_loss": 0.244, "loss": 0.871}
    res.training["b"] = {"epoch": 3.0, "loss": 2.0}  # an older log without the parts
    (title, header, rows), *_ = [t for t in tables(res) if t[0].startswith("Training")]
    assert header[-2:] == ["Eq. 5", "training objective"]
    assert rows[0] == ["a", "9", "0.281", "0.244", "0.525", "0.871"]
    assert rows[1] == ["b", "3", "-", "-", "-", "2.000"]
