"""The Markdown report of `manage.py evaluate_models`: mood and transfer figures as tables."""

from __future__ import annotations

from generation.ml.evaluate import write_report


def _split(n, mode, tempo):
    return {"n": n, "mode": mode, "tempo_band": tempo,
            "by_language": {"en": {"n": n, "mode": mode, "tempo_band": tempo}}}


def _direction(strength, onsets, melody):
    return {"acc_real": 0.9, "p_source_transfer": 0.2, "p_source_cycle": 0.8,
            "strength": strength, "onsets_kept": onsets, "melody_onsets_kept": melody,
            "pitch_class_similarity": 0.9, "p_source_decoder_only": 0.8,
            "onsets_kept_decoder_only": 0.9, "playable": 1.0}


def test_the_report_tabulates_mood_splits_and_transfer_pairs(tmp_path):
    results = {
        "quick": False, "model_version": "abc",
        "mood": {"tune": _split(124, 0.984, 0.944), "heldout": _split(137, 0.927, 0.839),
                 "errors": {"tune": [{"text": "x"}]}},
        "transfer": {"phrases_per_direction": 240, "classifier": 0.918, "pairs": {
            "german_folk__chorale": {
                "german_folk->chorale": _direction(0.99, 0.85, 0.85),
                "chorale->german_folk": _direction(1.0, 0.22, 0.88),
                "S_tot": 0.996, "onsets_kept_min": 0.22, "melody_onsets_kept_min": 0.85,
                "goal_met": False}}},
    }
    path = tmp_path / "evaluation.md"
    write_report(results, path)
    text = path.read_text()
    assert "| heldout | 137 | 0.927 | 0.839 |" in text
    assert "met: False" in text  # 0.839 < 0.85
    assert "| german_folk__chorale | 0.996 | 0.220 | 0.850 | False |" in text
    assert "| chorale->german_folk | 0.9 | 0.2 | 0.8 | 1.0 | 0.22 | 0.88 |" in text
    assert "test balanced accuracy 0.918" in text
    assert '"errors"' not in text  # tables replace the raw JSON dump

    results["mood"]["heldout"] = _split(137, 0.93, 0.86)
    write_report(results, path)
    assert "(mode >= 0.90, tempo band >= 0.85) met: True" in path.read_text()
