"""Simplified Chinese (China) wording of PHQ-9 and GAD-7.

Source: Pfizer, PHQ-9/GAD-7 Chinese (China) translations; free to reproduce,
no permission needed. (PHQ-9 and GAD-7 were developed by Drs. Robert L.
Spitzer, Janet B.W. Williams, Kurt Kroenke and colleagues, with an
educational grant from Pfizer Inc.)

Plain data, no Django imports. Item keys match ``questionnaires.definitions``
(``phq9_1`` … ``phq9_10``, ``gad7_1`` … ``gad7_7``, ``gad7_difficulty``).
Option labels are listed in score order: index 0 scores 0, index 3 scores 3.
"""

# Wording check, 2026-11-25 (issue 8).
# Target: the official Pfizer "Chinese (China)" PHQ-9 and GAD-7 forms
# distributed via https://www.phqscreeners.com/select-screener. That PDF
# itself could not be opened from here, so every string below was checked
# against independent published copies instead, none of which is a verbatim
# transcript of the PDF:
#   - PHQ-9 stems: github.com/Chuan-Peng-Lab/YouthDepressioninScales,
#     2_Literature_Search/2_1_Depression/2_1_1_Scale/OUTPUT/yuki/Scales/PHQ-9.txt;
#     github.com/SongningGuo/juexin.github.io, phq.js;
#     http://m.ewsos.com/lady/a/20150329/1067915-1.html (chinanews.com reprint);
#     https://www.xiaomilidoc.com/p-11399331.html.
#   - GAD-7 stems: github.com/SongningGuo/juexin.github.io, gad7.js, plus
#     several other open-source apps, all with the same seven strings.
#   - Frequency options 完全不会/好几天/一半以上的天数/几乎每天: ewsos.com and
#     xiaomilidoc.com pages above, and jsPsych scripts that cite the published
#     Chinese validations (Bian et al. 2009 PHQ-9; He et al. 2010 GAD-7).
#   - Lead-in and the difficulty item (处理家庭事务，或与他人相处上; 毫无困难/
#     有点困难/非常困难/极度困难): two unrelated open-source files agree on these;
#     neither could be traced to a named repository.
# Still NOT verified letter-for-letter against the PDF:
#   - phq9_3: published copies are split between 睡不安稳 (kept here) and 睡不安.
#   - phq9_6, phq9_8: the dash (—— here, a single — in some copies).
#   - phq9_8: 觉察？ (some copies use 察觉 or no question mark).
#   - the opening clause 如果您发现自己有以上任何问题 of phq9_10 / gad7_difficulty.
#   - the GAD-7 lead-in and the GAD-7 difficulty item: no copy was found, so they
#     use the same text as PHQ-9.

from __future__ import annotations

PHQ9_INSTRUCTIONS_ZH = "在过去两个星期，有多少时候您受到以下任何问题所困扰？"

PHQ9_WORDING_ZH = {
    "phq9_1": "做事时提不起劲或没有兴趣",
    "phq9_2": "感到心情低落、沮丧或绝望",
    "phq9_3": "入睡困难、睡不安稳或睡眠过多",
    "phq9_4": "感觉疲倦或没有活力",
    "phq9_5": "食欲不振或吃太多",
    "phq9_6": "觉得自己很糟——或觉得自己很失败，或让自己或家人失望",
    "phq9_7": "对事物专注有困难，例如阅读报纸或看电视时",
    "phq9_8": (
        "动作或说话速度缓慢到别人已经觉察？或正好相反——烦躁或坐立不安、动来动去的情况更胜于平常"
    ),
    "phq9_9": "有不如死掉或用某种方式伤害自己的念头",
    "phq9_10": (
        "如果您发现自己有以上任何问题，这些问题在您工作、处理家庭事务，"
        "或与他人相处上造成了多大的困难？"
    ),
}

GAD7_INSTRUCTIONS_ZH = "在过去两个星期，有多少时候您受到以下任何问题所困扰？"

GAD7_WORDING_ZH = {
    "gad7_1": "感觉紧张、焦虑或急切",
    "gad7_2": "不能够停止或控制担忧",
    "gad7_3": "对各种各样的事情担忧过多",
    "gad7_4": "很难放松下来",
    "gad7_5": "由于不安而无法静坐",
    "gad7_6": "变得容易烦恼或急躁",
    "gad7_7": "感到似乎将有可怕的事情发生而害怕",
    "gad7_difficulty": (
        "如果您发现自己有以上任何问题，这些问题在您工作、处理家庭事务，"
        "或与他人相处上造成了多大的困难？"
    ),
}

# Answer options for PHQ-9 items 1–9 and GAD-7 items 1–7, scored 0..3.
FREQUENCY_OPTIONS_ZH = ("完全不会", "好几天", "一半以上的天数", "几乎每天")

# Answer options for the unscored difficulty question (phq9_10, gad7_difficulty), 0..3.
DIFFICULTY_OPTIONS_ZH = ("毫无困难", "有点困难", "非常困难", "极度困难")
