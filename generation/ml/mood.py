"""The mood reader: free text (English, Chinese, mixed, emoji) -> valence/arousal -> musical attributes.

`interpret_mood(text)` reads a mood description with a hand-written bilingual lexicon
(`mood_lexicon.tsv`, beside this file) and a few rules, and returns a `Mood`: valence and
arousal in [-1, 1], the musical attributes of `generation/music/attributes_schema.json`, an
optional style hint, a one-sentence explanation and the words it did not know. Nothing is
downloaded and no model is loaded; a call takes well under a millisecond per word.

Reading
    English is lowercased and split into words; multi-word phrases ("on top of the world")
    are matched first, longest first, then single words, trying simple lemmas (plural,
    -ing, -ed, -ly, -er/-est, -ness, -ment, -ation, -ance; a plural's singular's own base
    forms, so "dancers" reads as "dance") when the word itself is not listed. A hyphenated word
    is looked up whole ("so-so"), then joined ("heart-broken" -> "heartbroken"), else read
    as separate words ("not-so-happy"). "down" is a function word, and "blue" a colour,
    except right after an intensifier or diminisher ("so down", "有点 down", "kind of
    blue"), where they are sadness. Chinese has no
    spaces, so each run of Chinese characters is scanned left to right taking the longest
    entry that matches (lexicon words, function words, style cues). Traditional characters
    are looked up through a character-for-character table to simplified ("開心" reads as
    "开心"), while the words shown keep the characters the user typed. AABB reduplication
    reads as the word AB ("热热闹闹" -> "热闹", "开开心心" -> "开心"). Emoji are looked up
    with variation selectors and skin tones removed. Mixed text is read piece by piece.

Rules
    * Negation ("not", "never", "no longer", "n't", "不", "没有", "不再", "一点也不") applies to
      the next mood word within three content words of the same clause: valence flips and
      shrinks (`-0.5 * v` by default; "一点也不" flips harder, "不太" softer), arousal
      shrinks and flips more weakly (`-0.3 * a`; for an unpleasant word `-0.3 * |a|`, since
      relief is never livelier than neutral: "it doesn't hurt anymore"), and the negated
      word counts less (x0.6) because saying what a mood is not is weaker evidence than
      saying what it is.
      Set idioms keep their own entries ("no hope", "没有希望", "不安", "不错", "不开心").
      A negator followed directly by a person ("没有你的日子", "without you") negates the
      person's presence, not the mood word after it, so its scope ends there. "Never felt
      so ..." / "never been so ..." and "can't stop ..." are intensifiers, not negations.
    * Reluctance ("不想", "不愿意", "don't feel like", "don't want to") is a mood word of its
      own (unpleasant, listless) and also negates the word after it: "不想上班" and "I don't
      feel like celebrating" read minor and slow. "不想再" ("不想再等了") is impatience, a
      plain negator.
    * The Chinese passive "被" / "挨" before a verb the lexicon does not know reads that
      verb as a mildly bad event ("被坑了", "表白被拒了"); a known verb keeps its reading.
    * "走了" right after a being (a pet or a family member: "猫走了", "奶奶也走了") is a death,
      read as "去世"; after anyone else, or nobody, it stays walking or leaving.
    * Longing and absence ("miss", "想念", "思念", "empty", "空荡荡"): the next three
      pleasant words of the clause name what is missing ("想念家乡的妈妈", "an empty
      playground"), so their warmth is not read as the speaker's.
    * Intensifiers ("very", "so", "extremely", "很", "非常", "特别", "极其") multiply the next
      mood word's valence (and its arousal at half strength); diminishers ("a bit",
      "slightly", "有点", "淡淡") shrink valence by their factor f and arousal by f ** 1.5
      ("a little nervous" is calmer still than it is milder: a hedge on agitation). Values
      are clipped to [-1, 1]. "好" before a mood word, in either script, is "so" ("好开心",
      "好 down").
      Some intensifiers follow their word ("开心极了", "高兴得不得了", "饿死了", "tired af",
      "bored to death"); where no mood word comes right before them, "死了" and "to death"
      are read as death. An intensifier left at the end of a clause ("love you so much",
      "感激万分") strengthens that clause's last mood word.
    * Pace adverbs ("slowly", "gently", "quickly", "慢慢", "轻轻", "匆匆") join the mood word
      they modify, the next one or, in English, the one before ("walking slowly", "慢慢地走"),
      into one reading, the mean of the two: a slow walk is still a walk, not as slow as
      "slowly" alone. On their own ("慢慢地，轻轻地") they are mood words.
    * After a contrast word ("but", "但是", "可是") the later words weigh 1.5x: the clause
      after "but" is usually the one the writer means.
    * Each "!" raises arousal (up to +0.25 for three or more).
    * Valence and arousal are weighted means of the hits, each weighted by
      `(0.1 + |value|) ** 3`, so that emotion words ("grief", "furious") outweigh the mild
      connotations of scenery words ("train", "childhood", "garden") several times over.
    * A recognised style (hymn -> chorale, jig -> celtic, ...) pulls arousal towards that
      style's habit (a chorale is slow, a reel is fast) with the weight of one mild word.
    * If no mood word is recognised, valence and arousal stay 0 (plus any "!"), which
      gives major, moderate tempo, and the explanation says so.

Mapping valence v and arousal a to attributes
    mode           major if v >= 0.08, minor if v <= -0.08; in the dead zone between, minor
                   only when a >= 0.5 (balanced feelings at high energy read as tension),
                   otherwise major (the neutral default).
    energy e       a + 0.3 * min(v, 0): arousal, pulled down by unpleasantness, because
                   sad music is slower than its arousal alone suggests (a lament is slow).
    tempo_bpm      piecewise linear in e: e = -1 -> 60, e = 0 -> 105 (the middle of the
                   schema's moderate band), e = +1 -> 160; rounded to an int.
    tempo_band     from tempo_bpm through the schema edges (slow < 90 <= moderate < 120 <= fast),
                   so slow means e < -1/3 and fast means e >= 3/11.
    density_band   sparse if e < -1/3, dense if e >= 3/11, else moderate (follows tempo).
    register_band  from r = (v + a) / 2: low if r < -0.25, high if r > 0.25, else middle
                   (dark and heavy sits low, bright and lively sits high).
    dynamics       from a: pp < -0.6 <= p < -0.3 <= mp < 0 <= mf < 0.3 <= f < 0.65 <= ff.

    Activities set the pace through their arousal in the lexicon, because their pace is
    what a musician hears in them: running, dancing, 跑步, 跳舞 (about +0.7) read fast;
    marching (+0.4..+0.5) fast-ish; walking, strolling, 散步 (about 0 to -0.2) moderate;
    sitting, napping, sleeping, 睡 (-0.4 to -0.9) slow. Alternatives to this mapping were
    tried on the tune+dev prompts only (see `mood_eval`): lifting calm-but-pleasant moods
    towards moderate, a stronger or arousal-damped slowing by sadness, a different
    weighting exponent, and moving the band edges. None beat it by more than a few prompts
    of 258, and the lift for calm-but-pleasant moods lost more than it gained (both prompt
    authors label still scenes such as a fireside or a starry sky slow), so it is unchanged.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from generation.music.schema import STYLES, band_names, tempo_band

MAX_MOOD_CHARS = 500
LEXICON_PATH = Path(__file__).with_name("mood_lexicon.tsv")

# Valence closer to zero than this is "no clear leaning" for the choice of mode.
MODE_DEAD_ZONE = 0.08
# Tempo: arousal -1 / 0 / +1 map to these BPM (piecewise linear between them).
BPM_CALM, BPM_NEUTRAL, BPM_EXCITED = 60, 105, 160
SADNESS_SLOWS = 0.3  # how much negative valence slows the tempo (see tempo_energy)
NEGATION_WINDOW = 3  # content words a negator reaches forward
NEGATED_WEIGHT = 0.6
CONTRAST_WEIGHT = 1.5
STYLE_PRIOR_WEIGHT = 0.6  # a style counts like one word of arousal +-0.75 (weights are cubic)

# --- Function words (rules, not affect data) -------------------------------------------------

# Negators map to how strongly they flip valence.
_NEGATORS_EN: dict[str, float] = {
    w: 0.5
    for w in (
        "not no never nothing none nobody neither nor without cannot ain't "
        "can't don't doesn't didn't isn't aren't wasn't weren't won't wouldn't shouldn't "
        "couldn't haven't hasn't hadn't dont cant isnt doesnt didnt arent wasnt wouldnt couldnt"
    ).split()
}
_NEGATORS_EN.update(
    {
        "no longer": 0.5,
        "not at all": 0.7,
        "not very": 0.4,
        "not so": 0.4,
        "not that": 0.4,
        "not too": 0.4,
        "hardly": 0.4,
        "far from": 0.6,
    }
)
_NEGATORS_ZH: dict[str, float] = {
    "不": 0.5,
    "没": 0.5,
    "没有": 0.5,
    "不再": 0.5,
    "不是": 0.5,
    "不要": 0.5,
    "别": 0.5,
    "毫无": 0.6,
    "无法": 0.5,
    "从不": 0.5,
    "从来不": 0.5,
    "从没": 0.5,
    "并不": 0.5,
    "并没有": 0.5,
    "一点也不": 0.7,
    "一点都不": 0.7,
    "根本不": 0.7,
    "不太": 0.4,
    "不怎么": 0.4,
    "没那么": 0.4,
    "没有那么": 0.4,
    "不那么": 0.4,
    "不算": 0.4,
    "再也不": 0.6,
    # "不想再等了" is impatience, not reluctance: a plain negation of the next word.
    "不想再": 0.5,
}
# Intensifiers (> 1) and diminishers (< 1) scale the next mood word.
_SCALERS_EN: dict[str, float] = {
    "very": 1.4,
    "so": 1.4,
    "really": 1.4,
    "extremely": 1.8,
    "incredibly": 1.7,
    "super": 1.5,
    "totally": 1.4,
    "absolutely": 1.6,
    "deeply": 1.5,
    "utterly": 1.7,
    "truly": 1.3,
    "too": 1.3,
    "quite": 1.2,
    "terribly": 1.6,
    "awfully": 1.5,
    "such": 1.3,
    "most": 1.3,
    "insanely": 1.7,
    "overwhelmingly": 1.7,
    "completely": 1.5,
    "pretty": 1.2,
    "full of": 1.3,
    "soo": 1.5,
    "sooo": 1.6,
    "veryvery": 1.6,
    "more": 1.2,
    "ever": 1.1,
    "a bit": 0.6,
    "a little": 0.6,
    "a little bit": 0.55,
    "a tad": 0.6,
    "slightly": 0.5,
    "somewhat": 0.6,
    "kind of": 0.6,
    "kinda": 0.6,
    "sort of": 0.6,
    "mildly": 0.5,
    "barely": 0.4,
    "faintly": 0.5,
    "rather": 0.8,
    "a touch": 0.6,
}
_SCALERS_ZH: dict[str, float] = {
    "很": 1.25,
    "非常": 1.6,
    "特别": 1.5,
    "极其": 1.8,
    "极": 1.7,
    "十分": 1.5,
    "太": 1.5,
    "真": 1.3,
    "真的": 1.3,
    "超": 1.6,
    "超级": 1.7,
    "好想": 1.3,
    "最": 1.5,
    "更": 1.3,
    "更加": 1.4,
    "越来越": 1.3,
    "挺": 1.2,
    "蛮": 1.2,
    "相当": 1.4,
    "如此": 1.4,
    "这么": 1.3,
    "那么": 1.2,
    "格外": 1.5,
    "无比": 1.7,
    "万分": 1.7,
    "多么": 1.4,
    "好多": 1.2,
    "从来没有这么": 1.5,
    "从没这么": 1.5,
    "没有这么": 1.4,
    "满怀": 1.3,
    "充满": 1.3,
    "有点": 0.6,
    "有点儿": 0.6,
    "有一点": 0.6,
    "有一点点": 0.5,
    "一点": 0.6,
    "一点点": 0.5,
    "稍微": 0.6,
    "稍": 0.6,
    "略": 0.6,
    "略微": 0.6,
    "微微": 0.6,
    "淡淡": 0.6,
    "些许": 0.6,
    "有些": 0.6,
    "还算": 0.8,
}
# "好" is "good" on its own but "so" before a mood word ("好开心").
_CONTEXTUAL_SCALERS_ZH: dict[str, float] = {"好": 1.4}
# Intensifiers that follow the mood word they strengthen ("开心极了", "累死了", "bored to death",
# "tired af"), each with the word it reads as when no mood word comes right before it ("他死了"
# is about a death, "sentenced to death" too), or None to ignore it there.
_POST_SCALERS: dict[str, tuple[float, str | None]] = {
    "极了": (1.5, None),
    "得不得了": (1.6, None),
    "得要命": (1.6, None),
    "得不行": (1.5, None),
    "死了": (1.5, "死"),
    "坏了": (1.4, None),
    "透了": (1.5, None),
    "至极": (1.7, None),
    "af": (1.5, None),
    "as hell": (1.5, None),
    "as heck": (1.4, None),
    "to death": (1.5, "death"),
    "to the bone": (1.4, None),
    "beyond words": (1.5, None),
    "beyond belief": (1.5, None),
    "like crazy": (1.5, "crazy"),
    "as can be": (1.3, None),
}
_CONTRAST_EN = {"but", "however", "yet", "though", "although"}
_CONTRAST_ZH = {"但", "但是", "可是", "却", "不过", "然而", "可"}
# "Never felt so alive" says the feeling is stronger than ever: an intensifier, not a negation.
_SCALERS_EN.update(
    {
        "never felt so": 1.6,
        "never been so": 1.6,
        "never felt this": 1.6,
        "never been this": 1.6,
        "never felt more": 1.6,
        "never been more": 1.6,
        # "Can't stop smiling" is smiling a lot, "can't stop crying" crying a lot.
        "can't stop": 1.5,
        "cannot stop": 1.5,
        "couldn't stop": 1.5,
        "cant stop": 1.5,
    }
)
# Reluctance: "不想上班", "不愿意起床", "I don't feel like celebrating", "don't want to go". Not
# wanting an activity is a mood of its own (listless, unwilling: unpleasant and low in
# energy) whatever the activity is, so each is read as a mood word and also negates the word
# after it, as "不" and "don't" do: "不想哭" is unpleasant still, "不想上班" is not work's bustle.
_RELUCTANCE: dict[str, tuple[float, float]] = {
    term: (-0.45, -0.45)
    for term in (
        "不想", "不愿", "不愿意", "不情愿",
        "don't feel like", "dont feel like", "didn't feel like", "don't want to",
        "dont want to", "didn't want to", "do not want to", "don't wanna", "dont wanna",
        "not in the mood for", "not in the mood to",
    )
}  # fmt: skip
# A negator followed directly by a person is "without" ("没有你的日子", "without you"): it
# negates the person's presence, not the mood word that comes after.
_PERSONS_AFTER_NEGATOR = {
    "you", "me", "him", "her", "them", "us", "anyone", "anybody", "someone",
    "你", "我", "他", "她", "它", "你们", "我们", "他们", "她们", "人", "谁",
}  # fmt: skip
# "被" (and "挨") before a verb is the adversative passive: what happens to the speaker is
# nearly always bad ("被拒", "被骂", "被裁", "挨批"). A verb the lexicon does not know, right
# after it, reads as a mildly bad event; a known verb keeps its own reading ("被表扬").
_PASSIVE_ZH = {"被", "挨"}
_ADVERSITY = (-0.4, 0.0)
# "走了" after a being ("猫走了", "奶奶走了") means died, not left: "我走了" or "走了很远的路"
# (a person pronoun, or no being before it) keep the sense of walking or leaving.
_BEINGS_ZH = {
    "猫", "狗", "小猫", "小狗", "猫咪", "狗狗", "宠物", "老猫", "老狗", "鹦鹉", "兔子", "仓鼠",
    "爸爸", "妈妈", "爸", "妈", "父亲", "母亲", "爷爷", "奶奶", "外公", "外婆", "姥姥", "姥爷",
    "老人", "老人家", "老爷子", "老太太", "老伴", "祖父", "祖母", "师父", "恩师",
}  # fmt: skip
_DIED_ZH = "去世"
# Longing and absence: after "miss", "想念" or "empty" the pleasant words that follow in the
# clause name what is missing ("想念家乡的妈妈", "missing my mom's cooking", "an empty
# playground"), so their warmth is not the speaker's mood and they are not read.
_ABSENCE = {
    "miss", "misses", "missed", "missing", "longing", "yearning", "long for", "longing for",
    "yearn for", "yearning for", "empty", "deserted", "desolate",
    "想念", "思念", "牵挂", "挂念", "想你", "好想你", "空荡荡", "冷清", "空无一人",
}  # fmt: skip
# Words that are function words on their own ("walk down the road") but moods after an
# intensifier or diminisher ("so down", "a bit down", "有点 down"); "blue" is a colour on its
# own ("blue sea") but sadness after one ("so blue", "kind of blue").
_MOODS_AFTER_SCALER: dict[str, _Entry] = {}
# Phrases that look negated but are not ("can't stop smiling" is very positive).
_PASS_EN = {
    "can't help",
    "no doubt",
    "not only",
    "never ever",
    "nothing but",
    "at all",
    "no matter",
}
_STOP_EN = set(
    """a an the of in on at to for with by from and or as is are was were be been being am
    i i'm im me my mine myself you you're your yours we we're our us they they're their them
    he she him her his it it's its this that these those there here some something someone
    somewhere thing things all everyone everything everywhere just about into over under up
    down out off through along after before until while when where what which who whom how
    then than have has had having do does did feel feeling feels felt get getting got make
    making made music song tune piece sound sounds mood vibe vibes let lets let's want wants
    would could should can will may might must today tonight now day days time long far away
    again one little every each ready guess way much own across around against i've i'd i'll
    like also only anymore any if because since maybe perhaps please something
    mostly almost enough even another other others them both lot lots bit way many few
    said say says go goes going went come comes coming came look looks looking melody
    melodies track always sometimes often usually tomorrow yesterday""".split()
)
_STOP_ZH = set(
    """的 了 地 得 着 过 是 在 我 你 他 她 它 们 我们 你们 他们 这 那 这个 那个 这样 那样 一 个 一个 一首
    和 与 及 跟 同 上 下 里 中 吧 啊 呀 吗 呢 啦 哦 嘛 哈 就 都 也 还 又 把 被 给 从 到 向 对 像
    有 挨 可以 可能 一样 般 似的 今天 明天 昨天 现在 时候 时 感觉 觉得 心情 让 使 会 能 要 想 终于 音乐 曲子
    歌 首 段 天 日 些 什么 怎么 如何 为 为了 因为 所以 然后 而 并 且 之 其 恐怕 好像 只好 正好
    最好 大家 国家 积累 美国 已经 正在 刚刚 一直 总是 依然 仍然 还是 就是 只是 又是 一起
    自己 人 里面 外面 上面 下面 之中 之间 当 当时 每 每天 了吧 不断 不停 不仅 不得不 弹奏 演奏
    唱 听 去 来 后 前 心 再 才 只 很多 旋律 乐曲 曲 看 站 说 吃 喝 放 起 开 等 全 第 次 进 穿 传
    回 做 写 拿 带 找 坐 用 叫 这些 那些 一下 一些 一切 所有 时分 之后 之前 以后 以前""".split()
)

# --- Style cues: term -> (style, weight). Matched in both scripts; a term may also carry affect.
_STYLE_CUES: dict[str, tuple[str, float]] = {}
# Cues that name an occasion or a place rather than the music (a festival, a custom): they
# choose the style but do not bend the tempo towards the style's own (``_STYLE_AROUSAL``).
_SCENE_CUES: set[str] = set()


def _cues(style: str, terms: str, weight: float = 1.0, scene: bool = False) -> None:
    for term in terms.split(","):
        term = term.strip()
        if term:
            _STYLE_CUES[term] = (style, weight)
            if scene:
                _SCENE_CUES.add(term)


_cues(
    "chorale",
    "hymn, hymns, chorale, chorales, church, chapel, organ, bach, lutheran, "
    "choir, 赞美诗, 圣歌, 教堂, 唱诗班, 众赞歌, 巴赫, 管风琴, 礼拜, 赞歌",
)
_cues(
    "renaissance",
    "madrigal, madrigals, motet, motets, cathedral, medieval, renaissance, "
    "palestrina, monteverdi, lute, polyphony, gregorian, 文艺复兴, 牧歌, 经文歌, 中世纪, "
    "大教堂, 鲁特琴, 复调, 圣咏",
)
_cues(
    "german_folk",
    "volkslied, volkslieder, bavarian, bavaria, german, germany, polka, "
    "alps, alpine, yodel, oktoberfest, lederhosen, german folk, beer garden, 德国, 德意志, "
    "巴伐利亚, 波尔卡, 阿尔卑斯, 啤酒节",
)
_cues(
    "chinese_folk",
    "chinese, china, erhu, guzheng, pipa, pentatonic, jiangnan, 中国, 江南, "
    "小调, 江南小调, 二胡, 古筝, 琵琶, 笛子, 竹笛, 五声, 戏曲, 京剧, 丝竹, 高山流水, 茉莉花, "
    "民乐, 古琴",
)
# Pieces, genres and instruments of Chinese music that name a style as surely as "二胡".
_cues(
    "chinese_folk",
    "二泉映月, 十面埋伏, 春江花月夜, 渔舟唱晚, 将军令, 广陵散, 梅花三弄, 汉宫秋月, 阳关三叠, "
    "梁祝, 信天游, 评弹, 长调, 马头琴, 秦腔, 昆曲, 越剧, 黄梅戏",
)
_cues("chinese_folk", "民歌, 民谣, 苏州", weight=0.5)
# Chinese festivals and their customs: a mood set on them asks for a Chinese folk song
# (issue 13: "春节" came out as a German folk song).
_cues(
    "chinese_folk",
    "春节, 过年, 除夕, 年夜饭, 春联, 元宵, 元宵节, 中秋, 中秋节, 端午, 端午节, 七夕, 重阳, "
    "重阳节, 清明, 庙会, 舞龙, 舞狮, 月饼, 粽子, 赛龙舟, 龙舟, 红包, 压岁钱, 拜年, "
    "spring festival, lunar new year, chinese new year, mid-autumn, moon festival, "
    "dragon boat, lantern festival, mooncake, mooncakes",
    scene=True,
)
_cues("chinese_folk", "灯笼, 鞭炮, 饺子, 新年", weight=0.5, scene=True)
_cues(
    "celtic",
    "irish, ireland, celtic, scottish, scotland, jig, jigs, reel, reels, fiddle, "
    "fiddles, hornpipe, bagpipe, bagpipes, tin whistle, 爱尔兰, 苏格兰, 凯尔特, 吉格, 吉格舞, "
    "风笛, 锡口笛",
)
_cues("celtic", "pub, 酒吧", weight=0.5)
assert {style for style, _ in _STYLE_CUES.values()} <= set(STYLES)

# How each style bends arousal when it is recognised (a chorale is slow, a reel is fast).
_STYLE_AROUSAL: dict[str, float] = {
    "chorale": -0.45,
    "renaissance": -0.2,
    "german_folk": 0.15,
    "chinese_folk": -0.1,
    "celtic": 0.45,
}

# Traditional characters -> simplified, for the common characters of mood and scene words, so
# that "開心", "孤單" and "熱鬧" read like "开心", "孤单" and "热闹". A character-for-character
# table (written by hand for Cadenza) keeps the text's length, so the words the reader shows
# keep the user's own characters. Characters whose simplified form is ambiguous in the
# lexicon are left out; the table is checked against the lexicon by the tests.
_TRADITIONAL = (
    "個們這裡裏來還沒讓說話時間長遠歲憶記總無與從對為麼樣點學習書會動運飛騎獨寧輕鬆緊"
    "張驚嚇懼憤氣煩惱絕憐慘溫燦爛閃華麗壯觀偉勵揚隨緩靈夢紅綠藍黃銀曉聽單週邊開鄉媽熱"
    "鬧擠靜著憂傷悶慮愛樂歡興奮難過淚懷戀燈風雲電陽陰涼樹葉鳥龍馬魚車軍戰鬥勝敗聲響鐘"
    "場廣園節誕禮親傘鎮紙盞頭線見現實寫讀東喪結離別歸夠餘殘盡斷腸淒蕭舊兒孫爺雙隻錯誤"
    "嗎覺戲劇詞韻調譜彈鋼簫箏爾蘭蘇國師傳統歷鄰灣島橋灘濤漁滿滄霧飄颳颱雜亂鬱慶賀擁壓"
    "猶嘆歎懶睏爭槍殺罵頓闆雖應該經驗險擔態悅嬌臉談誰認識細膩優寬闊遙漸進衝擊護衛勞嗚"
    "喚瘋癡燒陣輸贏賽奪獎騷舉辦齊謠緒鐵機網絡號遊劍俠塵煙鶴鷹蟬異處婦兩萬億幾數種類質"
    "貴價錢買賣貓豬雞鴨蝦蘋畫劃燭爐鍋飯麵飲醫藥瘡災屍墳嚴肅莊輝榮驕誇讚頌詩漢語韓協諧"
    "穩纏綿腦瞭澀擾鎖門關閉戶樓層廳濕潤凍凜颯灑綻盪蕩濱際跡蹤尋覓夥輩導鳴嘯吶靄朧暉曬"
    "蔭築廟殼聖穌禱詠憫悵悽蒼瀟樸純潔淨乾窩"
)
_SIMPLIFIED = (
    "个们这里里来还没让说话时间长远岁忆记总无与从对为么样点学习书会动运飞骑独宁轻松紧"
    "张惊吓惧愤气烦恼绝怜惨温灿烂闪华丽壮观伟励扬随缓灵梦红绿蓝黄银晓听单周边开乡妈热"
    "闹挤静着忧伤闷虑爱乐欢兴奋难过泪怀恋灯风云电阳阴凉树叶鸟龙马鱼车军战斗胜败声响钟"
    "场广园节诞礼亲伞镇纸盏头线见现实写读东丧结离别归够余残尽断肠凄萧旧儿孙爷双只错误"
    "吗觉戏剧词韵调谱弹钢箫筝尔兰苏国师传统历邻湾岛桥滩涛渔满沧雾飘刮台杂乱郁庆贺拥压"
    "犹叹叹懒困争枪杀骂顿板虽应该经验险担态悦娇脸谈谁认识细腻优宽阔遥渐进冲击护卫劳呜"
    "唤疯痴烧阵输赢赛夺奖骚举办齐谣绪铁机网络号游剑侠尘烟鹤鹰蝉异处妇两万亿几数种类质"
    "贵价钱买卖猫猪鸡鸭虾苹画划烛炉锅饭面饮医药疮灾尸坟严肃庄辉荣骄夸赞颂诗汉语韩协谐"
    "稳缠绵脑了涩扰锁门关闭户楼层厅湿润冻凛飒洒绽荡荡滨际迹踪寻觅伙辈导鸣啸呐霭胧晖晒"
    "荫筑庙壳圣稣祷咏悯怅凄苍潇朴纯洁净干窝"
)
_TO_SIMPLIFIED = str.maketrans(_TRADITIONAL, _SIMPLIFIED)

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN_RE = re.compile(
    rf"(?P<cjk>[{_CJK}]+)"
    rf"|(?P<word>(?:(?![{_CJK}])[^\W\d_])+(?:['-](?:(?![{_CJK}])[^\W\d_])+)*)"
    r"|(?P<bang>!+)"
    r"|(?P<brk>[,.;:?\u3001\u3002\u2026\u300c\u300d()\[\]\"/\n-]+)"
    r"|(?P<other>\S)"
)
# Stripped before lookup: variation selectors, zero-width joiner, skin-tone modifiers.
_EMOJI_NOISE_RE = re.compile("[\ufe0e\ufe0f\u200d\U0001f3fb-\U0001f3ff]")


class MoodError(ValueError):
    """The mood text cannot be read (empty, too long, or with neither words nor emoji)."""


@dataclass(frozen=True)
class Mood:
    """What the mood reader made of a text. `attributes` uses the schema's names and values."""

    valence: float
    arousal: float
    attributes: dict[str, Any]
    style_hint: str | None
    explanation: str
    unknown_words: list[str] = field(default_factory=list)
    # what the explanation says, as data, so the studio can say it in the visitor's language
    reading: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object served by the API and printed by `manage.py interpret_mood`."""
        return {
            "valence": self.valence,
            "arousal": self.arousal,
            "attributes": dict(self.attributes),
            "style_hint": self.style_hint,
            "explanation": self.explanation,
            "unknown_words": list(self.unknown_words),
        }


# --- Lexicon ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    role: str  # affect | neg | scale | post | contrast | stop | pass | style
    valence: float = 0.0
    arousal: float = 0.0
    factor: float = 1.0
    style: str | None = None
    style_weight: float = 0.0
    scene: bool = False  # a style cue that names an occasion, not the music



_MOODS_AFTER_SCALER.update(
    {"down": _Entry("affect", -0.6, -0.4), "blue": _Entry("affect", -0.6, -0.4)}
)


@dataclass(frozen=True)
class _Tables:
    en_words: dict[str, _Entry]
    en_phrases: dict[tuple[str, ...], _Entry]
    zh: dict[str, _Entry]
    emoji: dict[str, tuple[float, float]]
    max_phrase: int
    max_zh: int


def _read_lexicon(path: Path) -> dict[str, dict[str, tuple[float, float]]]:
    out: dict[str, dict[str, tuple[float, float]]] = {"en": {}, "zh": {}, "emoji": {}}
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#") or line.startswith("lang\t"):
                continue
            lang, term, v, a = line.split("\t")
            valence, arousal = float(v), float(a)
            if lang not in out or not (-1 <= valence <= 1 and -1 <= arousal <= 1):
                raise ValueError(f"{path.name}:{line_no}: bad entry {line!r}")
            out[lang][term] = (valence, arousal)
    return out


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    lex = _read_lexicon(LEXICON_PATH)
    en: dict[str, _Entry] = {}
    zh: dict[str, _Entry] = {}
    for term, (v, a) in lex["en"].items():
        en[term] = _Entry("affect", v, a)
    for term, (v, a) in lex["zh"].items():
        zh[term] = _Entry("affect", v, a)

    def put(table: dict[str, _Entry], term: str, entry: _Entry) -> None:
        table[term] = entry

    for term in _STOP_EN:
        put(en, term, _Entry("stop"))
    for term in _STOP_ZH:
        put(zh, term, _Entry("stop"))
    for term in _PASS_EN:
        put(en, term, _Entry("pass"))
    for term, f in _SCALERS_EN.items():
        put(en, term, _Entry("scale", factor=f))
    for term, f in _SCALERS_ZH.items():
        put(zh, term, _Entry("scale", factor=f))
    for term, (f, _fallback) in _POST_SCALERS.items():
        put(zh if re.search(f"[{_CJK}]", term) else en, term, _Entry("post", factor=f))
    for term in _CONTRAST_EN:
        put(en, term, _Entry("contrast"))
    for term in _CONTRAST_ZH:
        put(zh, term, _Entry("contrast"))
    for term, f in _NEGATORS_EN.items():
        put(en, term, _Entry("neg", factor=f))
    for term, f in _NEGATORS_ZH.items():
        put(zh, term, _Entry("neg", factor=f))
    for term, (v, a) in _RELUCTANCE.items():
        put(zh if re.search(f"[{_CJK}]", term) else en, term, _Entry("neg", v, a, factor=0.5))
    for term, (style, w) in _STYLE_CUES.items():
        table = zh if re.search(f"[{_CJK}]", term) else en
        old = table.get(term)
        scene = term in _SCENE_CUES
        if old is not None and old.role == "affect":
            table[term] = _Entry("affect", old.valence, old.arousal, style=style, style_weight=w,
                                 scene=scene)
        else:
            table[term] = _Entry("style", style=style, style_weight=w, scene=scene)

    words = {k: e for k, e in en.items() if " " not in k}
    phrases = {tuple(k.split()): e for k, e in en.items() if " " in k}
    return _Tables(
        en_words=words,
        en_phrases=phrases,
        zh=zh,
        emoji={_EMOJI_NOISE_RE.sub("", k): va for k, va in lex["emoji"].items()},
        max_phrase=max(len(p) for p in phrases),
        max_zh=max(len(k) for k in zh),
    )


def _lemma_candidates(word: str, _plural: bool = False) -> list[str]:
    """The word, then plausible base forms (crude, but only ever checked against the lexicon)."""
    out = [word]
    w = re.sub(r"(.)\1{2,}", r"\1", word)  # "sooo" -> "so", "happyyy" -> "happy"
    if w != word:
        out += [w, re.sub(r"(.)\1{2,}", r"\1\1", word)]
    if w.endswith("'s"):
        out.append(w[:-2])
    if len(w) <= 3:
        return out

    def undouble(stem: str) -> list[str]:
        c = [stem, stem + "e"]
        if len(stem) > 2 and stem[-1] == stem[-2]:
            c.append(stem[:-1])
        if stem.endswith("ck"):
            c.append(stem[:-1])
        if stem.endswith("i"):
            c.append(stem[:-1] + "y")
        return c

    for suffix in ("ing", "ed", "est", "er"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            out += undouble(w[: -len(suffix)])
    if w.endswith("ies"):
        out.append(w[:-3] + "y")
    if w.endswith("es"):
        out.append(w[:-2])
    if w.endswith("s") and not w.endswith("ss"):
        out.append(w[:-1])
    if w.endswith("ily"):
        out.append(w[:-3] + "y")
    if w.endswith("ly"):
        out += [w[:-2], w[:-1] + "e"]
    if w.endswith("ness"):
        out += undouble(w[:-4])
    # Nouns made from verbs and adjectives: "enjoyment" -> "enjoy", "amusement" -> "amused",
    # "relaxation" -> "relax", "inspiration" -> "inspired", "elegance" -> "elegant".
    if w.endswith("ment") and len(w) - 4 >= 3:
        out += [w[:-4], w[:-4] + "d", w[:-4] + "ed"]
    if w.endswith("ation") and len(w) - 5 >= 3:
        out += [w[:-5], w[:-5] + "e", w[:-5] + "ed", w[:-3] + "e", w[:-3] + "ed"]
    if w.endswith(("ance", "ence")):
        out.append(w[:-2] + "t")
    # A plural of a derived word ("dancers", "runners"): the singular's own base forms too.
    if w.endswith("s") and not w.endswith("ss") and not _plural:
        out += _lemma_candidates(w[:-1], _plural=True)[1:]
    return out


# --- Reading ---------------------------------------------------------------------------------


@dataclass
class _Unit:
    surface: str
    entry: _Entry | None  # None: unknown word
    count: int = 1  # for "!" runs


def _english_units(words: list[str], t: _Tables) -> list[_Unit]:
    units: list[_Unit] = []
    i = 0
    while i < len(words):
        matched = False
        for n in range(min(t.max_phrase, len(words) - i), 1, -1):
            span = words[i : i + n]
            cands = [_lemma_candidates(w) for w in span]
            for _key, entry in _phrase_lookup(span, cands, t):
                units.append(_Unit(" ".join(span), entry))
                i += n
                matched = True
                break
            if matched:
                break
        if matched:
            continue
        word = words[i]
        entry = None
        for cand in _lemma_candidates(word):
            entry = t.en_words.get(cand)
            if entry is not None:
                break
        if entry is None and word.endswith("n't"):
            entry = _Entry("neg", factor=0.5)
        units.append(_Unit(word, entry))
        i += 1
    return units


def _phrase_lookup(span: list[str], cands: list[list[str]], t: _Tables):
    """Yield (key, entry) for the phrase the span spells, trying lemmas of each word."""
    # Exact spelling first, then lemmas of the last word only ("butterflies in my stomach"
    # vs "heart pounding"): enough for the phrases in the lexicon and cheap.
    key = tuple(span)
    if key in t.en_phrases:
        yield key, t.en_phrases[key]
        return
    for last in cands[-1][1:]:
        key = (*span[:-1], last)
        if key in t.en_phrases:
            yield key, t.en_phrases[key]
            return


def _chinese_units(shown: str, t: _Tables) -> list[_Unit]:
    """Units of one run of Chinese characters, looked up in simplified form, shown as typed."""
    run = shown.translate(_TO_SIMPLIFIED)  # same length: one character for one
    units: list[_Unit] = []
    unknown = ""
    i = 0
    while i < len(run):
        # AABB reduplication ("热热闹闹", "开开心心", "安安静静") is the word AB, said warmly.
        word = run[i] + run[i + 2] if i + 3 < len(run) else ""
        if word and run[i] == run[i + 1] and run[i + 2] == run[i + 3] and word in t.zh:
            entry = t.zh[word]
            if entry.role == "affect":
                if unknown:
                    units.append(_Unit(unknown, None))
                    unknown = ""
                units.append(_Unit(shown[i : i + 4], entry))
                i += 4
                continue
        for n in range(min(t.max_zh, len(run) - i), 0, -1):
            entry = t.zh.get(run[i : i + n])
            if entry is not None:
                if unknown:
                    units.append(_Unit(unknown, None))
                    unknown = ""
                units.append(_Unit(shown[i : i + n], entry))
                i += n
                break
        else:
            unknown += shown[i]
            i += 1
    if unknown:
        units.append(_Unit(unknown, None))
    for k, u in enumerate(units):
        word = u.surface.translate(_TO_SIMPLIFIED)
        # "被拒", "挨批": an unknown verb after the passive marker is a bad event.
        if word in _PASSIVE_ZH and k + 1 < len(units) and units[k + 1].entry is None:
            units[k + 1] = _Unit(units[k + 1].surface, _Entry("affect", *_ADVERSITY))
        # "猫走了", "奶奶也走了": a being's "走了" is a death.
        if word == "走" and k + 1 < len(units) and units[k + 1].surface == "了":
            before = [x for x in units[:k] if x.surface not in ("也", "就", "已经", "终于")]
            if before and before[-1].surface.translate(_TO_SIMPLIFIED) in _BEINGS_ZH:
                units[k] = _Unit(u.surface, t.zh.get(_DIED_ZH))
    return units


def _contextual_scalers(units: list[_Unit]) -> list[_Unit]:
    """Read "好" before a mood word as "so" ("好开心", "好 down"); alone it means "good"."""
    out = list(units)
    for k, u in enumerate(out[:-1]):
        nxt = out[k + 1]
        mood_next = nxt.entry is not None and (
            nxt.entry.role == "affect" or nxt.surface in _MOODS_AFTER_SCALER
        )
        if u.surface in _CONTEXTUAL_SCALERS_ZH and mood_next:
            out[k] = _Unit(u.surface, _Entry("scale", factor=_CONTEXTUAL_SCALERS_ZH[u.surface]))
    return out


_BREAK = _Entry("brk")

# Pace adverbs say how an action is done ("walk slowly", "慢慢散步", "gently waking up"). Next
# to the mood word they modify they make one reading with it, the mean of the two, rather
# than a second word whose extreme arousal would outweigh the action: a slow walk is still a
# walk (andante, "at a walking pace", sits at the slow end of moderate), and a quick nap is
# still a nap. Alone ("慢慢地，轻轻地", "slowly") they are mood words of their own.
_PACE_ADVERBS = {
    "slowly", "gently", "softly", "calmly", "quietly", "leisurely", "lazily", "quickly",
    "swiftly", "briskly", "hurriedly", "rapidly",
    "慢慢", "缓缓", "轻轻", "悄悄", "匆匆", "徐徐", "悠悠", "默默",
}  # fmt: skip
_PACE_LINKS = {"地", "的", "得"}  # "慢慢地走": the adverb's particle between the two


def _is_pace(u: _Unit) -> bool:
    return (
        u.entry is not None
        and u.entry.role == "affect"
        and u.surface.translate(_TO_SIMPLIFIED) in _PACE_ADVERBS
    )


def _is_mood_word(u: _Unit | None) -> bool:
    return u is not None and u.entry is not None and u.entry.role == "affect" and not _is_pace(u)


def _merge_pace(units: list[_Unit]) -> list[_Unit]:
    """Join each pace adverb to the mood word it modifies: the next one (after a particle
    such as "地"), or else, in English, the one just before it ("walking slowly")."""
    out: list[_Unit] = []
    i = 0
    while i < len(units):
        u = units[i]
        if _is_pace(u):
            j = i + 1
            if j < len(units) and units[j].surface in _PACE_LINKS:
                j += 1
            nxt = units[j] if j < len(units) else None
            if _is_mood_word(nxt):
                out.append(_joined(units[i : j + 1], u, nxt))
                i = j + 1
                continue
            prev = out[-1] if out else None
            if _is_mood_word(prev) and not re.search(f"[{_CJK}]", u.surface):
                out[-1] = _joined([prev, u], u, prev)
                i += 1
                continue
        out.append(u)
        i += 1
    return out


def _joined(span: list[_Unit], adverb: _Unit, word: _Unit) -> _Unit:
    a, w = adverb.entry, word.entry
    assert a is not None and w is not None
    joiner = "" if all(re.search(f"[{_CJK}]", x.surface) for x in span) else " "
    entry = dataclasses.replace(
        w, valence=(a.valence + w.valence) / 2, arousal=(a.arousal + w.arousal) / 2
    )
    return _Unit(joiner.join(x.surface for x in span), entry)


def _units(text: str, t: _Tables) -> list[_Unit]:
    units: list[_Unit] = []
    words: list[str] = []

    def flush_words() -> None:
        if words:
            units.extend(_english_units(words, t))
            words.clear()

    for m in _TOKEN_RE.finditer(text):
        kind, tok = m.lastgroup, m.group()
        if kind == "word":
            words.extend(_hyphenated(tok, t))
            continue
        flush_words()
        if kind == "cjk":
            units.extend(_chinese_units(tok, t))
        elif kind == "bang":
            units.append(_Unit(tok, _Entry("bang"), count=len(tok)))
        elif kind == "brk":
            units.append(_Unit(tok, _BREAK))
        elif _is_pictograph(tok):
            va = t.emoji.get(tok)
            units.append(_Unit(tok, None if va is None else _Entry("affect", *va)))
    flush_words()
    return _merge_pace(_contextual_scalers(units))


def _hyphenated(word: str, t: _Tables) -> list[str]:
    """A hyphenated word as the lexicon knows it: whole ("so-so", "laid-back"), joined
    ("heart-broken" -> "heartbroken", "lo-fi" -> "lofi"), or else as separate words."""
    if "-" not in word:
        return [word]
    for form in (word, word.replace("-", "")):
        if any(c in t.en_words for c in _lemma_candidates(form)):
            return [form]
    return [part for part in word.split("-") if part]


def _is_pictograph(ch: str) -> bool:
    return unicodedata.category(ch) == "So" or 0x1F000 <= ord(ch) <= 0x1FAFF


def _normalise(text: str) -> str:
    # NFKC turns full-width "！，？" and letters into ASCII; curly apostrophes join contractions.
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("`", "'")
    return _EMOJI_NOISE_RE.sub("", text).lower()


@dataclass
class _Hit:
    surface: str
    valence: float
    arousal: float
    weight: float


def _validate(text: str) -> str:
    if not isinstance(text, str):
        raise MoodError("Mood text must be a string.")
    stripped = text.strip()
    if not stripped:
        raise MoodError("Mood text is empty: describe a mood, e.g. 'calm sea at dawn'.")
    if len(stripped) > MAX_MOOD_CHARS:
        raise MoodError(
            f"Mood text is too long: {len(stripped)} characters, at most {MAX_MOOD_CHARS}."
        )
    # Emoji alone carry mood ("🌧️😢"), but digits and punctuation alone do not.
    if not any(ch.isalpha() or _is_pictograph(ch) for ch in stripped):
        raise MoodError("Mood text needs words or emoji, e.g. 'stormy night' or '🌧️😢'.")
    return stripped


def interpret_mood(text: str) -> Mood:
    """Read a mood description and return its valence, arousal and musical attributes.

    Raises MoodError for text that is empty or whitespace only, longer than MAX_MOOD_CHARS
    characters (after stripping), or made of neither letters nor emoji. Never raises for
    unknown words: they are listed in `unknown_words`, and a text with no known mood word
    gets the neutral reading (major, moderate tempo) with an explanation that says so.
    Deterministic: the same text always gives the same Mood.
    """
    stripped = _validate(text)
    t = _tables()
    units = _units(_normalise(stripped), t)

    hits: list[_Hit] = []
    unknown: list[str] = []
    style_votes: dict[str, float] = {}
    style_words: dict[str, str] = {}
    music_cued: set[str] = set()  # styles named by the music itself, not only by an occasion
    bangs = 0
    scale, scale_words = 1.0, []
    neg: tuple[str, float] | None = None
    neg_left = 0
    neg_fresh = False  # the previous unit was the negator itself
    contrast = 1.0
    clause_start = 0  # hits[clause_start:] belong to the current clause
    last_hit_at = -2  # index of the unit that gave the latest hit
    absence_left = 0  # content words still read as what is missed (see _ABSENCE)
    for k, u in enumerate(units + [_Unit("", _BREAK)]):
        e = u.entry
        role = "unknown" if e is None else e.role
        if role in ("brk", "bang", "contrast"):
            if scale_words and len(hits) > clause_start:
                # A trailing intensifier ("love you so much", "感激万分") strengthens the
                # clause's last mood word.
                hits[-1] = _rescaled(hits[-1], scale, "")
            bangs += u.count if role == "bang" else 0
            contrast = CONTRAST_WEIGHT if role == "contrast" else contrast
            scale, scale_words, neg = 1.0, [], None
            clause_start = len(hits)
            absence_left = 0
            continue
        if role == "post":
            assert e is not None
            if last_hit_at == k - 1:
                hits[-1] = _rescaled(hits[-1], e.factor, u.surface)
                continue
            fallback = _POST_SCALERS[u.surface][1]
            e = None if fallback is None else (t.zh.get(fallback) or t.en_words.get(fallback))
            if e is None:
                continue
            role = e.role
        if role == "neg":
            if e.valence or e.arousal:  # reluctance ("不想", "don't feel like"): a mood too
                v, a = _scaled(e.valence, e.arousal, scale)
                hits.append(_Hit(" ".join([*scale_words, u.surface]), v, a, contrast))
                last_hit_at = k
                scale, scale_words = 1.0, []
            neg, neg_left, neg_fresh = (u.surface, e.factor), NEGATION_WINDOW, True
            continue
        if neg_fresh and u.surface in _PERSONS_AFTER_NEGATOR:
            neg = None  # "without you": the negation is spent on the person
        neg_fresh = False
        if role == "scale":
            scale *= e.factor
            scale_words.append(u.surface)
            continue
        if role in ("stop", "affect") and scale_words and u.surface in _MOODS_AFTER_SCALER:
            e, role = _MOODS_AFTER_SCALER[u.surface], "affect"
        elif role in ("stop", "pass"):
            continue
        if e is not None and e.style is not None:
            style_votes[e.style] = style_votes.get(e.style, 0.0) + e.style_weight
            style_words.setdefault(e.style, u.surface)
            if not e.scene:
                music_cued.add(e.style)
        if role == "affect" and absence_left > 0 and neg is None and e.valence > 0:
            absence_left -= 1  # what is missed: its warmth is absent
            scale, scale_words = 1.0, []
            continue
        if role == "affect":
            v, a = _scaled(e.valence, e.arousal, scale)
            weight = contrast
            words = [*scale_words, u.surface]
            if neg is not None:
                # Not feeling something unpleasant is relief, which is never more agitated
                # than the word ("not sad" is not livelier than neutral); not feeling
                # something pleasant keeps a weak, flipped trace of its energy ("never
                # calm" is restless).
                a = -0.3 * abs(a) if v < 0 else -0.3 * a
                v = -neg[1] * v
                weight *= NEGATED_WEIGHT
                words.insert(0, neg[0])
            joiner = "" if all(re.search(f"[{_CJK}]", w) for w in words) else " "
            hits.append(_Hit(joiner.join(words), v, a, weight))
            last_hit_at = k
            if u.surface.translate(_TO_SIMPLIFIED) in _ABSENCE and neg is None:
                absence_left = NEGATION_WINDOW
            scale, scale_words, neg = 1.0, [], None
            continue
        # An unknown word or a bare style cue: the negation reaches past a few of them.
        if role == "unknown" and u.surface not in unknown:
            unknown.append(u.surface)
        scale, scale_words = 1.0, []
        if neg is not None:
            neg_left -= 1
            if neg_left <= 0:
                neg = None

    style = max(style_votes, key=lambda s: style_votes[s]) if style_votes else None
    valence, arousal, arousal_weight = _weighted_means(hits)
    if style is not None and style in music_cued:
        prior = _STYLE_AROUSAL[style]
        arousal = (arousal * arousal_weight + prior * STYLE_PRIOR_WEIGHT) / (
            arousal_weight + STYLE_PRIOR_WEIGHT
        )
    if bangs:
        arousal += min(0.25, 0.1 + 0.075 * (bangs - 1))
    valence = round(max(-1.0, min(1.0, valence)), 3)
    arousal = round(max(-1.0, min(1.0, arousal)), 3)
    attributes = attributes_for(valence, arousal)
    reading = _reading(hits, valence, arousal, attributes, style, style_words, bangs)
    return Mood(valence, arousal, attributes, style, explain(reading), unknown, reading)


def _scaled(valence: float, arousal: float, scale: float) -> tuple[float, float]:
    """Valence and arousal under an intensifier (> 1) or diminisher (< 1), before or after
    the word.

    Intensifiers mostly strengthen how good or bad the feeling is; its energy follows at half
    strength ("so happy" is happier more than it is faster). Diminishers soften arousal more
    than valence (f ** 1.5): "a little nervous" is less unpleasant, and calmer still.
    """
    scale = min(scale, 2.0)
    v = max(-1.0, min(1.0, valence * scale))
    a_scale = 1 + (scale - 1) / 2 if scale >= 1 else scale**1.5
    return v, max(-1.0, min(1.0, arousal * a_scale))


def _rescaled(hit: _Hit, factor: float, word: str) -> _Hit:
    """A hit strengthened (or softened) by a scaler that comes after it."""
    joiner = "" if not word or re.search(f"[{_CJK}]", hit.surface + word) else " "
    return _Hit(hit.surface + joiner + word, *_scaled(hit.valence, hit.arousal, factor),
                hit.weight)


def _weighted_means(hits: list[_Hit]) -> tuple[float, float, float]:
    """Weighted means of valence and arousal, and the total arousal weight (0 without hits)."""
    if not hits:
        return 0.0, 0.0, 0.0
    wv = [h.weight * (0.1 + abs(h.valence)) ** 3 for h in hits]
    wa = [h.weight * (0.1 + abs(h.arousal)) ** 3 for h in hits]
    valence = sum(w * h.valence for w, h in zip(wv, hits, strict=True)) / sum(wv)
    arousal = sum(w * h.arousal for w, h in zip(wa, hits, strict=True)) / sum(wa)
    return valence, arousal, sum(wa)


# --- Mapping ---------------------------------------------------------------------------------


def tempo_energy(valence: float, arousal: float) -> float:
    """The drive behind tempo and density: arousal, pulled down by negative valence.

    Sad music is slower than its arousal alone suggests (a lament is slow even when the
    grief in it is not calm), so unpleasant moods lose `SADNESS_SLOWS * |valence|`.
    """
    return max(-1.0, min(1.0, arousal + SADNESS_SLOWS * min(valence, 0.0)))


def tempo_bpm_for(arousal: float) -> int:
    """Tempo in BPM for an arousal in [-1, 1]: -1 -> 60, 0 -> 105, +1 -> 160 (piecewise linear)."""
    a = max(-1.0, min(1.0, arousal))
    if a < 0:
        return round(BPM_NEUTRAL + a * (BPM_NEUTRAL - BPM_CALM))
    return round(BPM_NEUTRAL + a * (BPM_EXCITED - BPM_NEUTRAL))


def tempo_band_for(bpm: float) -> str:
    """Schema tempo band of a tempo in BPM (slow < 90 <= moderate < 120 <= fast)."""
    return tempo_band(bpm)


def _pick(names: tuple[str, ...], edges: tuple[float, ...], x: float) -> str:
    for name, edge in zip(names, edges, strict=False):
        if x < edge:
            return name
    return names[len(edges)]


def attributes_for(valence: float, arousal: float) -> dict[str, Any]:
    """The schema attributes for a valence/arousal pair (the mapping in the module docstring)."""
    if valence >= MODE_DEAD_ZONE:
        mode = "major"
    elif valence <= -MODE_DEAD_ZONE:
        mode = "minor"
    else:
        mode = "minor" if arousal >= 0.5 else "major"
    energy = tempo_energy(valence, arousal)
    bpm = tempo_bpm_for(energy)
    low_a, high_a = -1 / 3, 3 / 11  # the arousal at the tempo band edges
    attributes = {
        "mode": mode,
        "tempo_bpm": bpm,
        "tempo_band": tempo_band_for(bpm),
        "density_band": _pick(band_names("density_band"), (low_a, high_a), energy),
        "register_band": _pick(
            band_names("register_band"), (-0.25, 0.25 + 1e-9), (valence + arousal) / 2
        ),
        "dynamics": _pick(band_names("dynamics"), (-0.6, -0.3, 0.0, 0.3, 0.65), arousal),
    }
    assert attributes["mode"] in band_names("mode")
    return attributes


def gettext_noop(message: str) -> str:
    """Marks an English message for the studio's translation catalogs (Django's makemessages
    extracts calls of this name) without importing Django here: the engine stays free of it.
    The studio renders the same reading through ``explain(reading, translate=gettext)``."""
    return message


# every word a reading can name, marked once for the catalogs
_FEELINGS = (
    gettext_noop("bright and lively"), gettext_noop("peaceful and warm"), gettext_noop("warm"),
    gettext_noop("tense and restless"), gettext_noop("sad and subdued"), gettext_noop("dark"),
    gettext_noop("agitated"), gettext_noop("still"), gettext_noop("neutral"),
)
# the values of the mode and the bands (generation/music/schema), as people read them
_MUSIC_WORDS = (
    gettext_noop("major"), gettext_noop("minor"),
    gettext_noop("slow"), gettext_noop("moderate"), gettext_noop("fast"),
    gettext_noop("sparse"), gettext_noop("dense"),
    gettext_noop("low"), gettext_noop("middle"), gettext_noop("high"),
)
# each style's name for people (the studio's forms and pages use these too)
STYLE_NAMES = {
    "chorale": gettext_noop("chorale"),
    "renaissance": gettext_noop("Renaissance"),
    "german_folk": gettext_noop("German folk"),
    "chinese_folk": gettext_noop("Chinese folk"),
    "celtic": gettext_noop("Celtic"),
}


def _feeling(valence: float, arousal: float) -> str:
    lively, calm = arousal >= 3 / 11, arousal < -1 / 3
    if valence >= MODE_DEAD_ZONE:
        return "bright and lively" if lively else "peaceful and warm" if calm else "warm"
    if valence <= -MODE_DEAD_ZONE:
        return "tense and restless" if lively else "sad and subdued" if calm else "dark"
    return "agitated" if lively else "still" if calm else "neutral"


# the sentences of an explanation, marked once for the catalogs
_MUSIC = gettext_noop("%(mode)s, %(tempo_bpm)s BPM (%(tempo_band)s)")
_QUOTED = gettext_noop("'%(word)s'")
_NO_WORDS = gettext_noop("No mood words recognised, so the reading is neutral: %(music)s.")
_READS = gettext_noop("%(said)s reads as %(feeling)s: %(music)s.")
_READ = gettext_noop("%(said)s read as %(feeling)s: %(music)s.")
_AND = gettext_noop("%(first)s and %(last)s")
_LIST_COMMA = gettext_noop(", ")
_STYLE_CUE = gettext_noop("'%(word)s' suggests the %(style)s style.")
_BANGS = gettext_noop("The exclamation marks add energy.")


def _identity(message: str) -> str:
    return message


def explain(reading: dict[str, Any], translate: Callable[[str], str] = _identity) -> str:
    """The one-sentence explanation of a reading (``Mood.reading``), in English, or in the
    language of ``translate`` (a gettext function: the studio passes Django's)."""
    t = translate
    music = t(_MUSIC) % {
        "mode": t(reading["mode"]), "tempo_bpm": reading["tempo_bpm"],
        "tempo_band": t(reading["tempo_band"]),
    }
    quoted = [t(_QUOTED) % {"word": w} for w in reading["words"]]
    if not quoted:
        sentences = [t(_NO_WORDS)
                     % {"music": music}]
    else:
        if len(quoted) == 1:
            said = quoted[0]
            template = t(_READS)
        else:
            said = t(_AND) % {
                "first": t(_LIST_COMMA).join(quoted[:-1]), "last": quoted[-1]}
            template = t(_READ)
        sentences = [template % {"said": said, "feeling": t(reading["feeling"]), "music": music}]
    if reading.get("style"):
        sentences.append(t(_STYLE_CUE) % {
            "word": reading["style_word"], "style": t(STYLE_NAMES[reading["style"]])})
    if reading.get("bangs"):
        sentences.append(t(_BANGS))
    return " ".join(sentences)


def _reading(
    hits: list[_Hit],
    valence: float,
    arousal: float,
    attributes: dict[str, Any],
    style: str | None,
    style_words: dict[str, str],
    bangs: int,
) -> dict[str, Any]:
    """What the explanation says, as data: the strongest words (at most three), the feeling,
    the music, the style cue and the exclamation marks."""
    names: list[str] = []
    strongest = sorted(hits, key=lambda h: -h.weight * (abs(h.valence) + abs(h.arousal)))[:3]
    for h in strongest:
        if h.surface not in names:
            names.append(h.surface)
    return {
        "words": names,
        "feeling": _feeling(valence, arousal),
        "mode": attributes["mode"],
        "tempo_bpm": attributes["tempo_bpm"],
        "tempo_band": attributes["tempo_band"],
        "style": style,
        "style_word": style_words[style] if style is not None else None,
        "bangs": bangs,
    }
