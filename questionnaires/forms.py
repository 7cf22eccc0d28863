"""Questionnaire forms built from the instrument definitions.

The form checks the shape of each answer (types, ranges, the 24-hour clock);
the entry rules (a required item left blank, the PSQI 5j reason, soft queries
that need a confirmation) are the services', asked here so that their errors
stop the save beside the field before anything is posted.
"""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Field, Fieldset, Layout, Submit
from django import forms
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from trial.forms import DateInput, VasWidget, VersionField, apply_errors

from . import scoring, services
from .content import content_pack
from .definitions import Instrument, Item
from .models import Mode

CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"

# The entry rules and their messages live in the services, which enforce them for
# every caller; the form asks them too, to show each error beside its field.
ITEM_REQUIRED = services.ITEM_REQUIRED
PSQI_5J_TEXT_REQUIRED = services.PSQI_5J_TEXT_REQUIRED


def _wording(item: Item, instrument: Instrument, language: str) -> str | None:
    """The item's wording in the participant's language (committed, or the content
    pack's for licensed instruments), falling back to English."""
    if item.wording:
        return item.wording.get(language) or item.wording.get("en")
    pack = content_pack()
    return pack.wording(instrument.key, item.key, language) or pack.wording(
        instrument.key, item.key, "en"
    )


class ResponseForm(forms.Form):
    """One instrument's items, plus the administration details."""

    administered_on = forms.DateField(label=_("Administered on"), widget=DateInput())
    mode = forms.ChoiceField(label=_("Mode"), choices=Mode.choices, widget=forms.RadioSelect)
    items_not_answered = forms.BooleanField(
        label=_("The participant did not answer some items (leave those blank)"), required=False
    )
    confirm_queries = forms.BooleanField(
        label=_("I have checked these answers with the participant and they are correct"),
        required=False,
    )
    reason = forms.CharField(
        label=_("Reason for change"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    version = VersionField()

    def __init__(
        self,
        *args,
        instrument: Instrument,
        language: str = "en",
        correcting: bool = False,
        default_mode: str = Mode.IN_PERSON,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.instrument = instrument
        self.language = language
        self.queries: list[tuple[str, str]] = []
        self.fields["administered_on"].initial = timezone.localdate()
        self.fields["mode"].initial = default_mode
        if correcting:
            self.fields["reason"].required = True
            self.fields["reason"].error_messages["required"] = _(
                "A reason for the change is required."
            )
        else:
            del self.fields["reason"]
        item_layout = []
        for item in instrument.items:
            item_layout.append(self._add_item(item))
        instructions = content_pack().instructions(instrument.key, language) or (
            instrument.instructions.get(language) or instrument.instructions.get("en")
        )
        # Shown only when the answers raise a soft query that needs confirming.
        self._queries_block = Div("confirm_queries", css_class="d-none")
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Div(
                Div("administered_on", css_class="col-md-4"),
                Div("mode", css_class="col-md-4"),
                css_class="row",
            ),
            Fieldset(
                str(instrument.name),
                *(
                    [HTML(format_html('<p class="lead">{}</p>', instructions))]
                    if instructions
                    else []
                ),
                *item_layout,
            ),
            "items_not_answered",
            self._queries_block,
            *(["reason"] if correcting else []),
            "version",
            Submit("save", _("Save and score")),
        )

    def _label(self, item: Item) -> str:
        text = _wording(item, self.instrument, self.language)
        return (
            format_html('{} <span class="text-body-secondary">— {}</span>', item.label, text)
            if text
            else item.label
        )

    def _add_item(self, item: Item):
        label = self._label(item)
        common = {"label": label, "required": False, "help_text": item.help_text}
        key = item.key
        if item.kind == "choice":
            # The participant's language when the instrument carries it, else the UI's.
            labels = item.option_wording.get(self.language) or [o.label for o in item.options]
            self.fields[key] = forms.TypedChoiceField(
                choices=[
                    (o.value, f"{o.value} — {label}")
                    for o, label in zip(item.options, labels, strict=True)
                ],
                coerce=int,
                empty_value=None,
                widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
                **common,
            )
            return Div(Field(key, template="questionnaires/radio_row.html"), css_class="item-row")
        if item.kind == "vas":
            self.fields[key] = forms.IntegerField(
                min_value=0, max_value=100, widget=VasWidget(), **common
            )
        elif item.kind == "clock":
            self.fields[key] = forms.RegexField(
                regex=CLOCK_PATTERN,
                max_length=5,
                error_messages={"invalid": _("Use the 24-hour clock, HH:MM (e.g. 23:30).")},
                widget=forms.TextInput(
                    attrs={
                        "placeholder": "HH:MM",
                        "inputmode": "numeric",
                        "size": 6,
                        "pattern": CLOCK_PATTERN[1:-1],
                        "autocomplete": "off",
                    }
                ),
                **common,
            )
        elif item.kind == "minutes":
            self.fields[key] = forms.IntegerField(min_value=0, max_value=24 * 60, **common)
        elif item.kind == "hours":
            self.fields[f"{key}_hours"] = forms.IntegerField(
                min_value=0, max_value=24, label=label, required=False, help_text=item.help_text
            )
            self.fields[f"{key}_minutes"] = forms.IntegerField(
                min_value=0, max_value=59, label=_("and minutes"), required=False
            )
            return Div(
                Div(f"{key}_hours", css_class="col-md-6"),
                Div(f"{key}_minutes", css_class="col-md-3"),
                css_class="row item-row",
            )
        elif item.kind == "text":
            self.fields[key] = forms.CharField(max_length=200, **common)
        elif item.kind == "points":
            self.fields[key] = forms.IntegerField(
                min_value=0,
                max_value=item.maximum,
                **{**common, "help_text": _("0 to %(max)d points") % {"max": item.maximum}},
            )
        return Div(key, css_class="item-row")

    @classmethod
    def initial_from(cls, instrument: Instrument, response, *, version: str = "") -> dict:
        initial = {
            "administered_on": response.administered_on,
            "mode": response.mode,
            "items_not_answered": response.items_not_answered,
            "version": version,
        }
        for item in instrument.items:
            value = response.answers.get(item.key)
            if item.kind == "hours" and isinstance(value, str) and ":" in value:
                hours, minutes = value.split(":")
                initial[f"{item.key}_hours"], initial[f"{item.key}_minutes"] = (
                    int(hours),
                    int(minutes),
                )
            else:
                initial[item.key] = value
        return initial

    def answers(self) -> dict[str, Any]:
        data = self.cleaned_data
        answers: dict[str, Any] = {}
        for item in self.instrument.items:
            if item.kind == "hours":
                hours, minutes = data.get(f"{item.key}_hours"), data.get(f"{item.key}_minutes")
                value = (
                    None
                    if hours is None and minutes is None
                    else f"{hours or 0}:{minutes or 0:02d}"
                )
            else:
                value = data.get(item.key)
                if isinstance(value, str):
                    value = value.strip() or None
            answers[item.key] = value
        return answers

    def field_for(self, key: str) -> str | None:
        """The field that shows an error about item ``key`` (None: above the form)."""
        if key in self.fields:
            return key
        if f"{key}_hours" in self.fields:
            return f"{key}_hours"
        return None

    def add_service_errors(self, error) -> None:
        """Put a service's ValidationError beside the fields of the items it names."""
        if not hasattr(error, "error_dict"):
            apply_errors(self, error)
            return
        for key, messages in error.message_dict.items():
            for message in messages:
                self.add_error(self.field_for(key), message)

    def ticked_queries(self) -> tuple[str, ...]:
        """The soft queries the person confirmed by ticking the box."""
        return tuple(self.confirmed_queries()) if self.cleaned_data.get("confirm_queries") else ()

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        for item in self.instrument.items:
            if item.kind == "hours":
                hours = cleaned.get(f"{item.key}_hours")
                if hours == 24 and (cleaned.get(f"{item.key}_minutes") or 0) > 0:
                    self.add_error(f"{item.key}_minutes", _("At most 24 hours in total."))
        answers = self.answers()
        problems = services.answer_problems(
            instrument=self.instrument.key,
            answers=answers,
            items_not_answered=bool(cleaned.get("items_not_answered")),
        )
        for key, messages in problems.items():
            for message in messages:
                self.add_error(self.field_for(key), message)
        if self.errors:
            return cleaned
        try:
            self.instrument.score(answers)
        except scoring.ScoringError as error:
            key = getattr(error, "key", None)
            self.add_error(key if key in self.fields else None, str(error))
            return cleaned
        self.queries = services.soft_queries(self.instrument.key, answers)
        if self.queries:
            self._queries_block.css_class = "alert alert-warning"
            for message in services.unconfirmed_queries(
                self.queries, confirmed=self.ticked_queries()
            ).get("confirm_queries", []):
                self.add_error("confirm_queries", message)
        return cleaned

    def confirmed_queries(self) -> list[str]:
        """The codes of the soft queries these answers raise (a valid form has them confirmed)."""
        return [code for code, _message in self.queries]


class AcknowledgeAlertForm(forms.Form):
    note = forms.CharField(
        label=_("What was done (e.g. participant contacted, risk assessed, referred)"),
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout("note", Submit("acknowledge", _("Acknowledge")))
