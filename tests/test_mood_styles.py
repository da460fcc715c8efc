"""The style a mood asks for when the user leaves it open (issue 13: a Chinese festival is a
Chinese folk song, not a German one)."""

import pytest

from generation.ml.mood import interpret_mood


@pytest.mark.parametrize("text", ["春节的热闹和喜悦", "中秋节赏月，想家", "端午节赛龙舟",
                                  "Chinese New Year fireworks", "a mid-autumn moon festival"])
def test_chinese_festivals_ask_for_a_chinese_folk_song(text):
    assert interpret_mood(text).style_hint == "chinese_folk"


@pytest.mark.parametrize("text", ["New Year's Eve party in New York", "stormy night at sea"])
def test_moods_without_a_cue_leave_the_style_open(text):
    assert interpret_mood(text).style_hint is None
