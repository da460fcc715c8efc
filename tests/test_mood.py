"""The mood reader: text in English / Chinese / emoji -> valence, arousal, musical attributes."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from hypothesis import given, settings
from hypothesis import strategies as st

from generation.ml.mood import (
    MAX_MOOD_CHARS,
    Mood,
    MoodError,
    attributes_for,
    interpret_mood,
    tempo_band_for,
)
from generation.ml.mood_eval import (
    EXPLICIT_SPLITS,
    TUNING_SPLITS,
    evaluate_mood,
    language_of,
    load_prompts,
    split_for,
)
from generation.music.schema import STYLES, band_names

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = ROOT / "tests" / "data" / "mood_prompts.json"
ATTRIBUTE_KEYS = {"mode", "tempo_bpm", "tempo_band", "density_band", "register_band", "dynamics"}


def mood(text: str) -> Mood:
    return interpret_mood(text)


# --- Negation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "plain, negated",
    [
        ("happy", "not happy"),
        ("calm", "never calm"),
        ("hopeful", "I don't feel hopeful"),
        ("开心", "不开心"),
        ("快乐", "一点也不快乐"),
        ("希望", "没有希望"),
    ],
)
def test_negation_turns_a_pleasant_word_unpleasant(plain, negated):
    assert mood(plain).valence > 0
    assert mood(negated).valence < 0
    assert mood(negated).attributes["mode"] == "minor"


@pytest.mark.parametrize(
    "text", ["I'm not sad anymore", "not scared", "不再害怕", "没有那么难过了"]
)
def test_negating_an_unpleasant_word_reads_as_relief(text):
    assert mood(text).valence > 0
    assert mood(text).attributes["mode"] == "major"


def test_never_calm_is_more_restless_than_calm():
    assert mood("never calm").arousal > mood("calm").arousal


def test_negation_does_not_reach_past_a_comma():
    # "not" belongs to the first clause; "happy" after the comma stays happy.
    assert mood("not tonight, happy").valence > 0


def test_cant_stop_smiling_is_not_negated():
    assert mood("can't stop smiling").valence > 0


@pytest.mark.parametrize("text", ["never felt so alive", "never been so happy"])
def test_never_felt_so_is_an_intensifier_not_a_negation(text):
    m = mood(text)
    assert m.valence > mood(text.split()[-1]).valence > 0
    assert m.attributes["mode"] == "major"


@pytest.mark.parametrize(
    "text", ["没有你的日子好漫长", "没有你，很孤单", "without you I'm so lonely"]
)
def test_a_negator_spent_on_a_person_does_not_flip_the_mood_word(text):
    # "没有你" is "without you": the long days stay long and sad, not flipped to pleasant.
    m = mood(text)
    assert m.valence < 0 and m.attributes["mode"] == "minor"


def test_negation_still_reaches_past_a_non_person_word():
    assert mood("not a happy day").valence < 0
    assert mood("不是快乐的一天").valence < 0


def test_bu_kaixin_is_a_word_of_its_own():
    assert mood("不开心").unknown_words == []
    assert "不开心" in mood("不开心").explanation
    assert mood("不开心").attributes["mode"] == "minor"


# --- Intensifiers, diminishers, exclamation marks -----------------------------------------


@pytest.mark.parametrize(
    "base, stronger", [("sad", "very sad"), ("angry", "extremely angry"), ("难过", "非常难过")]
)
def test_intensifiers_make_an_unpleasant_word_more_unpleasant(base, stronger):
    assert mood(stronger).valence < mood(base).valence


@pytest.mark.parametrize("base, stronger", [("happy", "so happy"), ("开心", "特别开心")])
def test_intensifiers_make_a_pleasant_word_more_pleasant(base, stronger):
    assert mood(stronger).valence > mood(base).valence


@pytest.mark.parametrize(
    "base, weaker", [("sad", "a bit sad"), ("anxious", "slightly anxious"), ("难过", "有点难过")]
)
def test_diminishers_soften_a_word(base, weaker):
    assert mood(base).valence < mood(weaker).valence < 0


def test_hao_before_a_mood_word_means_so_and_alone_means_good():
    assert mood("好开心").valence > mood("开心").valence
    assert mood("今天很好").valence > 0


def test_exclamation_marks_raise_arousal():
    assert mood("happy!!!").arousal > mood("happy!").arousal > mood("happy").arousal
    assert "exclamation" in mood("happy!!!").explanation


def test_a_clause_after_but_weighs_more():
    assert mood("sad but hopeful").valence > mood("hopeful but sad").valence


@pytest.mark.parametrize(
    "base, stronger",
    [("开心", "开心极了"), ("高兴", "高兴得不得了"), ("难过", "难过得要命"), ("tired", "tired af")],
)
def test_intensifiers_after_the_word_strengthen_it(base, stronger):
    m = mood(stronger)
    assert abs(m.valence) > abs(mood(base).valence)
    assert m.unknown_words == []
    assert m.attributes["mode"] == mood(base).attributes["mode"]


def test_to_death_after_a_mood_word_is_an_intensifier_and_alone_is_death():
    # "bored to death" is very bored, not grief; "sentenced to death" is about a death.
    bored, very_bored = mood("bored"), mood("bored to death")
    assert very_bored.valence < bored.valence and very_bored.arousal < bored.arousal
    assert "'bored to death'" in very_bored.explanation
    assert mood("sentenced to death").valence <= -0.8
    assert mood("他死了").valence <= -0.8  # 死了 after a person, not after a mood word


@pytest.mark.parametrize(
    "plain, trailing", [("I love you", "I love you so much"), ("感激", "感激万分")]
)
def test_a_trailing_intensifier_strengthens_the_clause_s_last_mood_word(plain, trailing):
    assert mood(trailing).valence > mood(plain).valence > 0


def test_a_trailing_intensifier_does_not_reach_into_another_clause():
    assert mood("happy, so").valence == mood("happy").valence


@pytest.mark.parametrize("text", ["a little nervous", "slightly anxious", "有点慌"])
def test_a_diminisher_calms_an_agitated_word_as_well_as_softening_it(text):
    word = text.split()[-1] if " " in text else text[-1]
    assert 0 < mood(text).arousal < mood(word).arousal


@pytest.mark.parametrize(
    "text, word", [("can't stop smiling", "smiling"), ("can't stop crying", "crying")]
)
def test_cant_stop_strengthens_the_word_after_it(text, word):
    assert abs(mood(text).valence) > abs(mood(word).valence)
    assert mood(text).attributes["mode"] == mood(word).attributes["mode"]


def test_hao_before_an_english_mood_word_means_so():
    assert mood("好 down").valence < mood("down").valence
    assert mood("好 down").attributes["mode"] == "minor"
    assert mood("好 happy").valence > mood("happy").valence


def test_blue_is_a_colour_alone_and_sadness_after_an_intensifier():
    assert mood("blue sky").valence > 0
    assert mood("so blue").valence < mood("blue").valence < 0
    assert mood("kind of blue").attributes["mode"] == "minor"


# --- Reluctance, relief, the passive, "走了" ------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["不想上班", "不想起床", "不愿意说话", "I don't feel like celebrating", "don't want to go out"],
)
def test_not_wanting_an_activity_is_a_listless_unpleasant_mood(text):
    m = mood(text)
    assert m.valence < 0 and m.attributes["mode"] == "minor"
    assert m.attributes["tempo_band"] != "fast"


def test_not_wanting_to_wait_any_more_is_impatience_not_reluctance():
    assert mood("不想再等了，我要出发！").attributes["tempo_band"] == "fast"


@pytest.mark.parametrize("text", ["it doesn't hurt anymore", "not sad anymore", "不再难过"])
def test_a_negated_unpleasant_word_is_relief_and_no_livelier(text):
    m = mood(text)
    assert m.valence > 0 and m.arousal <= 0


@pytest.mark.parametrize("text", ["表白被拒了", "又被坑了", "挨批了"])
def test_an_unknown_verb_after_the_passive_marker_is_a_bad_event(text):
    assert mood(text).valence < 0 and mood(text).attributes["mode"] == "minor"


def test_a_known_verb_after_the_passive_marker_keeps_its_reading():
    assert mood("被表扬了").valence > 0


@pytest.mark.parametrize("text", ["养了十年的猫走了", "奶奶走了", "爷爷也走了"])
def test_zou_le_after_a_being_is_a_death(text):
    m = mood(text)
    assert m.valence <= -0.4 and m.attributes["mode"] == "minor"
    assert m.attributes["tempo_band"] == "slow"


@pytest.mark.parametrize("text", ["我们走了很远的路", "我走了，明天见", "吃完饭走了一圈"])
def test_zou_le_without_a_being_before_it_is_walking_or_leaving(text):
    assert mood(text).valence > -0.4


@pytest.mark.parametrize(
    "text", ["想念家乡的妈妈", "思念远方的朋友", "missing my mom's cooking", "an empty playground"]
)
def test_what_is_missed_lends_no_warmth(text):
    m = mood(text)
    assert m.valence < 0 and m.attributes["mode"] == "minor"


def test_longing_reaches_only_to_the_end_of_its_clause():
    assert mood("missing you, but the sunshine is lovely").valence > 0


@pytest.mark.parametrize(
    "text", ["my friend is moving away", "she moved abroad last year", "moving to another city"]
)
def test_moving_away_is_parting_while_moving_alone_is_touching(text):
    assert mood("a moving film").valence > 0
    assert mood(text).valence < 0 and mood(text).attributes["mode"] == "minor"


@pytest.mark.parametrize(
    "text, mode",
    [
        ("got laid off today", "minor"),
        ("we broke up", "minor"),
        ("落榜了", "minor"),
        ("爷爷住院了", "minor"),
        ("got promoted!", "major"),
        ("终于考上了", "major"),
        ("如释重负", "major"),
    ],
)
def test_everyday_life_events_read_as_they_feel(text, mode):
    assert mood(text).attributes["mode"] == mode
    assert mood(text).unknown_words == []


@pytest.mark.parametrize(
    "text, mode, band",
    [
        ("a requiem", "minor", "slow"),
        ("a dirge", "minor", "slow"),
        ("a pavane", "minor", "slow"),
        ("a tarantella", "minor", "fast"),
        ("二泉映月", "minor", "slow"),
        ("十面埋伏", "minor", "fast"),
        ("蒙古长调", "major", "slow"),
    ],
)
def test_musical_forms_and_pieces_carry_their_usual_mode_and_tempo(text, mode, band):
    m = mood(text)
    assert (m.attributes["mode"], m.attributes["tempo_band"]) == (mode, band)


# --- Languages, emoji, unknown words ------------------------------------------------------


def test_english_lemmas_are_found():
    for word in ("smiling", "laughed", "storms", "gently", "happiest", "panicking"):
        assert mood(word).unknown_words == [], word


@pytest.mark.parametrize(
    "derived, base",
    [
        ("dancers", "dance"),
        ("runners", "run"),
        ("enjoyment", "enjoy"),
        ("relaxation", "relax"),
        ("inspiration", "inspired"),
    ],
)
def test_plurals_of_agent_nouns_and_nouns_from_verbs_read_as_their_base(derived, base):
    d, b = mood(derived), mood(base)
    assert d.unknown_words == []
    assert (d.valence, d.arousal) == (b.valence, b.arousal) != (0.0, 0.0)


def test_chinese_is_read_by_longest_match():
    m = mood("孤独的雨夜")
    assert m.attributes["mode"] == "minor"
    assert m.unknown_words == []
    assert "雨夜" in m.explanation  # the two-character word, not 雨 and 夜 apart


@pytest.mark.parametrize(
    "text, mode",
    [("今天很happy", "major"), ("雨夜 rainy night, lonely", "minor"), ("so 开心 today!!", "major")],
)
def test_mixed_english_and_chinese(text, mode):
    m = mood(text)
    assert m.attributes["mode"] == mode
    assert m.unknown_words == []


@pytest.mark.parametrize(
    "traditional, simplified",
    [
        ("開心", "开心"),
        ("孤單的夜晚", "孤单的夜晚"),
        ("熱鬧的節日", "热闹的节日"),
        ("憂傷", "忧伤"),
    ],
)
def test_traditional_characters_read_like_simplified_and_are_shown_as_typed(
    traditional, simplified
):
    t, s = mood(traditional), mood(simplified)
    assert (t.valence, t.arousal, t.attributes) == (s.valence, s.arousal, s.attributes)
    assert t.unknown_words == []
    assert traditional[:2] in t.explanation  # the user's own characters, not the lookup form


def test_the_traditional_table_is_one_to_one_and_never_hides_a_lexicon_entry():
    import generation.ml.mood as mood_module

    trad, simp = mood_module._TRADITIONAL, mood_module._SIMPLIFIED
    assert len(trad) == len(simp) == len(set(trad)) > 300
    assert not set(trad) & set(simp)  # no chains: one lookup is enough
    entries = mood_module._tables().zh
    assert not [term for term in entries if set(term) & set(trad)]


@pytest.mark.parametrize(
    "aabb, ab", [("热热闹闹", "热闹"), ("开开心心", "开心"), ("安安静静", "安静")]
)
def test_aabb_reduplication_reads_as_the_word(aabb, ab):
    m = mood(aabb)
    assert m.unknown_words == []
    assert (m.valence, m.arousal) == (mood(ab).valence, mood(ab).arousal)


@pytest.mark.parametrize(
    "text, band",
    [
        ("running", "fast"),
        ("jogging", "fast"),
        ("dancing", "fast"),
        ("跑步", "fast"),
        ("跳舞", "fast"),
        ("strolling", "moderate"),
        ("a walk", "moderate"),
        ("散步", "moderate"),
        ("sleeping", "slow"),
        ("napping", "slow"),
        ("睡觉", "slow"),
    ],
)
def test_activities_imply_a_tempo(text, band):
    assert mood(text).attributes["tempo_band"] == band


@pytest.mark.parametrize(
    "adverb, action, joined",
    [
        ("slowly", "walking", "walking slowly"),
        ("slowly", "walking", "slowly walking"),
        ("慢慢", "走", "慢慢走"),
        ("慢慢", "走", "慢慢地走"),
        ("quickly", "walking", "walking quickly"),
    ],
)
def test_a_pace_adverb_modifies_the_action_instead_of_outweighing_it(adverb, action, joined):
    # A slow walk is still a walk: between the two, and read as one phrase.
    a, w, j = mood(adverb).arousal, mood(action).arousal, mood(joined).arousal
    assert abs(j - (a + w) / 2) < 0.01  # not the adverb's extreme arousal alone
    assert f"'{joined}'" in mood(joined).explanation


def test_a_pace_adverb_alone_keeps_its_own_reading():
    assert mood("慢慢地，轻轻地").attributes["tempo_band"] == "slow"
    assert mood("slowly").attributes["tempo_band"] == "slow"


@pytest.mark.parametrize(
    "text, band",
    [
        ("no rush", "slow"),
        ("take your time", "slow"),
        ("不着急，慢慢来", "slow"),
        ("brisk", "fast"),
        ("急促", "fast"),
        ("悠闲", "slow"),
        ("a brisk morning", "fast"),
        ("in a hurry", "fast"),
    ],
)
def test_tempo_words_and_idioms_set_the_pace(text, band):
    m = mood(text)
    assert m.attributes["tempo_band"] == band
    assert m.unknown_words == []


@pytest.mark.parametrize(
    "hyphenated, plain",
    [("heart-broken", "heartbroken"), ("lo-fi", "lofi"), ("not-so-happy", "not so happy")],
)
def test_hyphenated_words_are_read_whole_joined_or_apart(hyphenated, plain):
    h, p = mood(hyphenated), mood(plain)
    assert (h.valence, h.arousal) == (p.valence, p.arousal) != (0.0, 0.0)
    assert h.unknown_words == []


def test_down_is_a_mood_only_after_an_intensifier():
    assert mood("so down today").valence < 0
    assert mood("有点 down").attributes["mode"] == "minor"
    assert mood("walk down the road").valence > 0


def test_the_lexicon_lists_each_term_once():
    seen = Counter()
    path = ROOT / "generation" / "ml" / "mood_lexicon.tsv"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#") and not line.startswith("lang\t"):
            lang, term, _v, _a = line.split("\t")
            seen[(lang, term)] += 1
    assert len(seen) > 2000
    assert [k for k, n in seen.items() if n > 1] == []


def test_emoji_carry_mood_alone():
    rain = mood("🌧️😢")
    party = mood("🎉🎉")
    assert rain.attributes["mode"] == "minor" and rain.valence < 0
    assert party.attributes["mode"] == "major" and party.attributes["tempo_band"] == "fast"


def test_emoji_variation_selectors_and_skin_tones_do_not_matter():
    assert mood("☀️").valence == mood("☀").valence > 0
    assert mood("👍🏽").valence == mood("👍").valence > 0


def test_unknown_words_are_listed_without_stop_words():
    m = mood("the zorblax of the quuxish sea")
    assert m.unknown_words == ["zorblax", "quuxish"]
    m = mood("古筝弹奏的咕噜咕噜")
    assert "的" not in "".join(m.unknown_words)
    assert m.unknown_words == ["咕噜咕噜"]


def test_text_with_no_known_word_reads_as_neutral_and_says_so():
    m = mood("xyzzy plugh 🦄")
    assert (m.valence, m.arousal) == (0.0, 0.0)
    assert m.attributes["mode"] == "major"
    assert m.attributes["tempo_band"] == "moderate"
    assert m.unknown_words == ["xyzzy", "plugh", "🦄"]
    assert "No mood words recognised" in m.explanation


def test_the_explanation_names_the_words_that_decided():
    m = mood("stormy night at sea, restless")
    assert "'stormy'" in m.explanation and "'restless'" in m.explanation
    assert "tense" in m.explanation and "fast" in m.explanation


# --- Input checks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["", "   ", "\n\t ", "12345", "!!! ???", "a" * (MAX_MOOD_CHARS + 1)]
)
def test_unreadable_text_is_refused_with_a_clear_message(text):
    with pytest.raises(MoodError) as e:
        interpret_mood(text)
    assert isinstance(e.value, ValueError)
    assert str(e.value).startswith("Mood text")


def test_text_of_exactly_the_limit_is_read():
    text = ("calm sea " * 100)[:MAX_MOOD_CHARS]
    assert len(text) == MAX_MOOD_CHARS
    assert interpret_mood(text).attributes["tempo_band"] == "slow"


def test_surrounding_whitespace_does_not_count_towards_the_limit():
    text = ("calm sea " * 100)[:MAX_MOOD_CHARS]
    padded = interpret_mood("  \n" + text + "\t  ")
    assert padded.attributes == interpret_mood(text).attributes
    assert padded.attributes["tempo_band"] == "slow"
    with pytest.raises(MoodError):
        interpret_mood("  " + text + "x  ")


# --- Style hints --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, style",
    [
        ("like a hymn", "chorale"),
        ("music for church", "chorale"),
        ("a chorale", "chorale"),
        ("a jig at the pub", "celtic"),
        ("a reel on the fiddle", "celtic"),
        ("something Irish", "celtic"),
        ("江南小调", "chinese_folk"),
        ("二胡", "chinese_folk"),
        ("中国的春天", "chinese_folk"),
        ("a madrigal", "renaissance"),
        ("a motet in a cathedral", "renaissance"),
        ("medieval night", "renaissance"),
        ("中世纪大教堂", "renaissance"),
        ("a Volkslied", "german_folk"),
        ("Bavarian beer", "german_folk"),
        ("German folk song", "german_folk"),
        ("a happy polka", "german_folk"),
        ("德国民歌", "german_folk"),
        ("stormy night at sea", None),
    ],
)
def test_style_hints(text, style):
    assert mood(text).style_hint == style
    assert style is None or style in STYLES


def test_styles_bend_the_tempo():
    assert mood("a hymn").attributes["tempo_band"] == "slow"
    assert mood("a reel").attributes["tempo_band"] == "fast"


def test_a_lullaby_is_slow_and_soft():
    attrs = mood("a lullaby").attributes
    assert attrs["tempo_band"] == "slow"
    assert attrs["dynamics"] in ("pp", "p")
    assert attrs["density_band"] == "sparse"


# --- Mapping and shape --------------------------------------------------------------------


@pytest.mark.parametrize(
    "bpm, band", [(30, "slow"), (89.9, "slow"), (90, "moderate"), (119, "moderate"), (120, "fast")]
)
def test_tempo_band_follows_the_schema_edges(bpm, band):
    assert tempo_band_for(bpm) == band


def test_attributes_use_only_schema_values_across_the_whole_plane():
    seen = Counter()
    for v in [x / 10 for x in range(-10, 11)]:
        for a in [x / 10 for x in range(-10, 11)]:
            attrs = attributes_for(v, a)
            assert set(attrs) == ATTRIBUTE_KEYS
            for name in ATTRIBUTE_KEYS - {"tempo_bpm"}:
                assert attrs[name] in band_names(name), (name, attrs[name])
            assert 60 <= attrs["tempo_bpm"] <= 160
            assert attrs["tempo_band"] == tempo_band_for(attrs["tempo_bpm"])
            seen.update(attrs[k] for k in ATTRIBUTE_KEYS - {"tempo_bpm"})
    # Every band and dynamic level is reachable somewhere in the plane.
    for name in ATTRIBUTE_KEYS - {"tempo_bpm"}:
        assert all(seen[value] for value in band_names(name)), name


def test_mode_dead_zone_is_resolved_by_energy():
    assert attributes_for(0.0, 0.0)["mode"] == "major"
    assert attributes_for(0.05, 0.8)["mode"] == "minor"
    assert attributes_for(0.2, 0.8)["mode"] == "major"


def test_tempo_grows_with_arousal_and_sadness_slows_it():
    assert attributes_for(0.5, -0.8)["tempo_bpm"] < attributes_for(0.5, 0.0)["tempo_bpm"]
    assert attributes_for(0.5, 0.0)["tempo_bpm"] < attributes_for(0.5, 0.8)["tempo_bpm"]
    assert attributes_for(-0.8, -0.2)["tempo_bpm"] < attributes_for(0.8, -0.2)["tempo_bpm"]


def test_json_shape():
    d = mood("stormy night at sea, restless 🌊").to_dict()
    assert list(d) == [
        "valence",
        "arousal",
        "attributes",
        "style_hint",
        "explanation",
        "unknown_words",
    ]
    assert set(d["attributes"]) == ATTRIBUTE_KEYS
    assert isinstance(d["attributes"]["tempo_bpm"], int)
    assert isinstance(d["explanation"], str) and d["explanation"]
    assert isinstance(d["unknown_words"], list)
    assert json.loads(json.dumps(d)) == d


def test_mood_is_frozen_and_deterministic():
    m = mood("快乐的节日")
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.valence = 0.0  # type: ignore[misc]
    assert mood("快乐的节日") == m


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80))
def test_any_text_reads_in_range_or_is_refused_cleanly(text):
    try:
        m = interpret_mood(text)
    except MoodError:
        return
    assert -1 <= m.valence <= 1 and -1 <= m.arousal <= 1
    assert m.attributes["mode"] in ("major", "minor")
    assert m.attributes["tempo_band"] == tempo_band_for(m.attributes["tempo_bpm"])


# --- The management command ---------------------------------------------------------------


def test_command_prints_one_json_object_with_chinese_unescaped():
    out = StringIO()
    call_command("interpret_mood", "悲伤的夜晚", stdout=out)
    text = out.getvalue()
    assert "悲伤" in text  # ensure_ascii=False
    d = json.loads(text)
    assert d["attributes"]["mode"] == "minor"
    assert d == interpret_mood("悲伤的夜晚").to_dict()


def test_command_refuses_empty_text_with_status_2():
    with pytest.raises(CommandError) as e:
        call_command("interpret_mood", "   ")
    assert e.value.returncode == 2
    assert "empty" in str(e.value)


def test_manage_py_exits_2_with_one_line_on_stderr():
    proc = subprocess.run(
        [sys.executable, "manage.py", "interpret_mood", "x" * (MAX_MOOD_CHARS + 1)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "too long" in proc.stderr


# --- The labelled prompts and accuracy ----------------------------------------------------


def test_the_prompt_set_is_large_varied_and_split_by_hash():
    prompts = load_prompts(PROMPTS)  # also checks each split against the hash
    assert len(prompts) >= 160
    languages = Counter(language_of(p["text"]) for p in prompts)
    assert languages["zh"] >= 60 and languages["mixed"] >= 5
    assert (
        sum(
            1
            for p in prompts
            if any(ord(c) > 0x2500 and not "\u4e00" <= c <= "\u9fff" for c in p["text"])
        )
        >= 10
    )  # emoji
    for p in prompts:
        assert p["mode"] in band_names("mode") and p["tempo_band"] in band_names("tempo_band")
        assert p["split"] in EXPLICIT_SPLITS or p["split"] == split_for(p["text"])
    assert len({p["text"] for p in prompts}) == len(prompts)  # no prompt in two splits
    hashed = [p for p in prompts if p["split"] not in EXPLICIT_SPLITS]
    share = sum(p["split"] == "heldout" for p in hashed) / len(hashed)
    assert 0.4 <= share <= 0.6


@pytest.mark.parametrize("batch,size", [("dev", 120), ("dev2", 200)])
def test_the_dev_batches_are_large_and_bilingual(batch, size):
    dev = [p for p in load_prompts(PROMPTS) if p["split"] == batch]
    assert len(dev) >= size
    languages = Counter(language_of(p["text"]) for p in dev)
    assert languages["zh"] >= 50 and languages["en"] >= 50 and languages["mixed"] >= 3
    # Both modes and all three tempo bands are represented.
    assert {p["mode"] for p in dev} == {"major", "minor"}
    assert {p["tempo_band"] for p in dev} == {"slow", "moderate", "fast"}


def test_a_misfiled_prompt_is_refused(tmp_path):
    text = "a sunny morning walk in the park"
    wrong = "heldout" if split_for(text) == "tune" else "tune"
    bad = tmp_path / "p.json"
    bad.write_text(
        json.dumps([{"text": text, "mode": "major", "tempo_band": "fast", "split": wrong}])
    )
    with pytest.raises(ValueError, match="wrong split"):
        load_prompts(bad)
    bad.write_text(
        json.dumps([{"text": text, "mode": "major", "tempo_band": "fast", "split": "x"}])
    )
    with pytest.raises(ValueError, match="unknown split"):
        load_prompts(bad)


@pytest.fixture(scope="module")
def accuracy():
    """The tuning splits only: the held-out half is scored by `make evaluate`
    (evaluate_models) and `python -m generation.ml.mood_eval`, read rarely and reported,
    never asserted on every run."""
    return evaluate_mood(PROMPTS, TUNING_SPLITS)


def test_the_held_out_half_is_large_and_bilingual_without_being_scored():
    heldout = [p for p in load_prompts(PROMPTS) if p["split"] == "heldout"]
    assert len(heldout) >= 80
    assert {language_of(p["text"]) for p in heldout} >= {"en", "zh", "mixed"}


def test_the_full_evaluation_scores_the_held_out_half_too(tmp_path):
    """What evaluate_models reports: every split, held-out included (on a small file)."""
    texts = ["calm sea at dawn", "a storm at night", "快乐的节日", "悲伤的夜晚", "slow rain",
             "a fast dance", "quiet snow", "angry fire"]
    rows = [{"text": t, "mode": "major", "tempo_band": "slow", "split": split_for(t)}
            for t in texts]
    assert {r["split"] for r in rows} == {"tune", "heldout"}
    path = tmp_path / "prompts.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    result = evaluate_mood(path)
    for split in ("tune", "heldout"):
        assert result[split]["n"] == sum(r["split"] == split for r in rows)
        assert 0 <= result[split]["mode"] <= 1
    assert "heldout" not in result["errors"]


# Floors on the tuning splits (measured 0.934 mode and 0.849 tempo band over 458 prompts;
# en 0.879 and zh 0.826 tempo band): a change that loses more than a few prompts fails here.
# The goal (>= 0.85 tempo band on the held-out half) is judged by `make evaluate` only.
def test_tuning_accuracy_stays_above_its_floors(accuracy):
    tuning = accuracy["tuning"]
    assert tuning["n"] >= 450
    assert tuning["mode"] >= 0.91, tuning
    assert tuning["tempo_band"] >= 0.83, tuning
    for lang in ("en", "zh"):
        got = tuning["by_language"][lang]
        assert got["mode"] >= 0.90 and got["tempo_band"] >= 0.80, (lang, got)
    assert accuracy["tune+dev"]["tempo_band"] >= 0.87, accuracy["tune+dev"]


def test_tune_and_dev_accuracy_are_reported_per_language(accuracy):
    tune, dev, dev2 = accuracy["tune"], accuracy["dev"], accuracy["dev2"]
    assert tune["n"] >= 80 and dev["n"] >= 120 and dev2["n"] >= 200
    assert accuracy["tune+dev"]["n"] == tune["n"] + dev["n"]
    assert accuracy["tuning"]["n"] == tune["n"] + dev["n"] + dev2["n"]
    for split in (tune, dev, dev2, accuracy["tune+dev"], accuracy["tuning"]):
        assert {"en", "zh"} <= set(split["by_language"])
    # Only the tuning splits' mistakes are listed, never the held-out half's.
    assert set(accuracy["errors"]) == {"tune", "dev", "dev2"}
    texts = {p["text"] for p in load_prompts(PROMPTS) if p["split"] == "heldout"}
    for split in ("tune", "dev", "dev2"):
        assert all(e["text"] not in texts for e in accuracy["errors"][split])


def test_the_tuning_evaluation_never_reads_the_held_out_half(monkeypatch):
    import generation.ml.mood_eval as mood_eval

    heldout = {p["text"] for p in load_prompts(PROMPTS) if p["split"] == "heldout"}
    seen: list[str] = []
    real = mood_eval.interpret_mood
    monkeypatch.setattr(mood_eval, "interpret_mood", lambda t: seen.append(t) or real(t))
    result = mood_eval.evaluate_mood(PROMPTS, TUNING_SPLITS)
    assert "heldout" not in result
    assert seen and not heldout & set(seen)


def test_a_second_blind_annotator_covers_only_tuning_prompts_and_mostly_agrees():
    from generation.ml.mood_eval import agreement

    second = PROMPTS.with_name("mood_prompts_second_annotator.json")
    result = agreement(PROMPTS, second)
    assert result["n"] >= 250
    # Two musicians agree on mode nearly always and on tempo band most of the time: the
    # labels can support the 0.85 tempo goal.
    assert result["annotators"]["mode"] >= 0.95 and result["annotators"]["tempo_band"] >= 0.85
    assert 0 < result["reader_vs_second"]["tempo_band"] <= 1


def test_agreement_refuses_a_second_file_that_reaches_into_the_held_out_half(tmp_path):
    from generation.ml.mood_eval import agreement

    held = next(p for p in load_prompts(PROMPTS) if p["split"] == "heldout")
    bad = tmp_path / "second.json"
    bad.write_text(json.dumps([{"text": held["text"], "mode": "major", "tempo_band": "slow"}]))
    with pytest.raises(ValueError, match="outside the tuning splits"):
        agreement(PROMPTS, bad)
