"""Simplified Chinese: 2026年11月25日, 2026年11月25日 14:05."""

DATE_FORMAT = "Y年n月j日"
SHORT_DATE_FORMAT = "Y年n月j日"
TIME_FORMAT = "H:i"
# The long form keeps the seconds, for the audit trail and the admin.
DATETIME_FORMAT = "Y年n月j日 H:i:s"
SHORT_DATETIME_FORMAT = "Y年n月j日 H:i"
YEAR_MONTH_FORMAT = "Y年n月"
MONTH_DAY_FORMAT = "n月j日"
FIRST_DAY_OF_WEEK = 1  # Monday

# As CLDR has it for zh (Django's own zh_Hans groups by ten thousand, unseparated);
# only used where a template asks for grouping, USE_THOUSAND_SEPARATOR is off.
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
