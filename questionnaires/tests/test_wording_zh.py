"""Pins the simplified Chinese PHQ-9 / GAD-7 wording as checked on 2026-11-25.

The sources, and the items that are still unverified, are listed in
``questionnaires/wording_zh.py``. If a wording changes, this test has to be
updated with the new checked text: it is the record of what participants see.
"""

from questionnaires.definitions import instruments

FREQUENCY = ("完全不会", "好几天", "一半以上的天数", "几乎每天")
DIFFICULTY = ("毫无困难", "有点困难", "非常困难", "极度困难")
LEAD_IN = "在过去两个星期，有多少时候您受到以下任何问题所困扰？"
DIFFICULTY_QUESTION = (
    "如果您发现自己有以上任何问题，这些问题在您工作、处理家庭事务，或与他人相处上造成了多大的困难？"
)


def _items(key):
    return {item.key: item for item in instruments()[key].items}


def test_phq9_item9_wording_is_pinned():
    assert _items("phq9")["phq9_9"].wording["zh-hans"] == "有不如死掉或用某种方式伤害自己的念头"


def test_phq9_stems_are_pinned():
    items = _items("phq9")
    assert items["phq9_1"].wording["zh-hans"] == "做事时提不起劲或没有兴趣"
    assert items["phq9_2"].wording["zh-hans"] == "感到心情低落、沮丧或绝望"
    assert items["phq9_4"].wording["zh-hans"] == "感觉疲倦或没有活力"
    assert items["phq9_5"].wording["zh-hans"] == "食欲不振或吃太多"
    assert items["phq9_7"].wording["zh-hans"] == "对事物专注有困难，例如阅读报纸或看电视时"


def test_gad7_item1_wording_is_pinned():
    assert _items("gad7")["gad7_1"].wording["zh-hans"] == "感觉紧张、焦虑或急切"


def test_gad7_stems_are_pinned():
    items = _items("gad7")
    assert [items[f"gad7_{n}"].wording["zh-hans"] for n in range(1, 8)] == [
        "感觉紧张、焦虑或急切",
        "不能够停止或控制担忧",
        "对各种各样的事情担忧过多",
        "很难放松下来",
        "由于不安而无法静坐",
        "变得容易烦恼或急躁",
        "感到似乎将有可怕的事情发生而害怕",
    ]


def test_frequency_options_are_pinned_in_score_order():
    for key, items in (("phq9", range(1, 10)), ("gad7", range(1, 8))):
        for n in items:
            item = _items(key)[f"{key}_{n}"]
            assert item.option_wording["zh-hans"] == FREQUENCY, item.key
            assert [o.value for o in item.options] == [0, 1, 2, 3], item.key


def test_difficulty_item_and_options_are_pinned():
    for key, item_key in (("phq9", "phq9_10"), ("gad7", "gad7_difficulty")):
        item = _items(key)[item_key]
        assert item.wording["zh-hans"] == DIFFICULTY_QUESTION, item_key
        assert item.option_wording["zh-hans"] == DIFFICULTY, item_key
        assert [o.value for o in item.options] == [0, 1, 2, 3], item_key


def test_lead_in_is_pinned():
    assert instruments()["phq9"].instructions["zh-hans"] == LEAD_IN
    assert instruments()["gad7"].instructions["zh-hans"] == LEAD_IN
