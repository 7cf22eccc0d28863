"""Texts the system writes into records: stored in English, shown in the reader's language."""

import pytest
from django.utils import timezone, translation

from trial.record_text import shown

ZH = [
    ("Telephone interview completed", "电话访谈已完成"),
    ("Investigator review", "研究者审核"),
    ("Acknowledged", "已确认"),
    ("Retired before activation", "启用前已停用"),
    ("Three failed contact attempts in the window", "访视窗内三次联系未成功"),
    ("Consented as MLT-007", "已知情同意，编号 MLT-007"),
    ("Scheduled from procedure date 2026-03-05", "根据手术日期 2026年3月5日 排定"),
    ("Completed (6 months) on 2026-10-11", "完成（6 个月）（2026年10月11日）"),
    ("Withdrawal on 2026-01-31", "退出（2026年1月31日）"),
    ("Not done before completion (2026-10-11)", "完成研究前未进行（2026年10月11日）"),
    ("Completed (6 months)", "完成（6 个月）"),
    ("Imported by import_trial_data", "由 import_trial_data 导入"),
]


@pytest.mark.parametrize(("stored", "chinese"), ZH)
def test_system_texts_are_shown_in_chinese(stored, chinese):
    with translation.override("zh-hans"):
        assert shown(stored) == chinese


@pytest.mark.parametrize(
    ("stored", "english"),
    [
        ("Telephone interview completed", "Telephone interview completed"),
        ("Consented as MLT-007", "Consented as MLT-007"),
        ("Scheduled from procedure date 2026-03-05", "Scheduled from procedure date 5 Mar 2026"),
        ("Withdrawal on 2026-01-31", "Withdrawal on 31 Jan 2026"),
    ],
)
def test_system_texts_in_english_have_their_dates_in_the_english_format(stored, english):
    with translation.override("en"):
        assert shown(stored) == english


@pytest.mark.parametrize(
    "typed",
    [
        "Moved away",
        "Acknowledged by phone",  # starts like a system text, is not one
        "Consented as",  # the template without its value
        "Scheduled from procedure date soon",  # not a date
        "",
    ],
)
def test_what_people_typed_is_shown_as_typed(typed):
    with translation.override("zh-hans"):
        assert shown(typed) == typed


def test_a_chinese_users_status_change_is_stored_in_english(nurse, make_ready_participant):
    from followup import services
    from followup.models import StatusEvent, Visit

    participant = make_ready_participant()
    today = timezone.localdate()
    assert Visit.objects.filter(participant=participant).exists()
    with translation.override("zh-hans"):
        services.status_change(
            participant=participant,
            kind=StatusEvent.Kind.LOST,
            effective_date=today,
            reason="电话停机",
            by=nurse,
        )
    participant.refresh_from_db()
    assert participant.status_reason == "电话停机"  # typed: kept as typed
    reasons = {
        row.history_change_reason
        for visit in Visit.objects.filter(participant=participant)
        for row in visit.history.filter(history_type="~")
    }
    assert reasons == {f"Lost to follow-up on {today.isoformat()}"}
    with translation.override("zh-hans"):
        assert shown(reasons.pop()) == f"失访（{today.year}年{today.month}月{today.day}日）"
