"""Forms of follow-up: the shape of input. Domain rules live in services.

The fields of the forms that record something (a contact attempt, the interview, a
visit done or missed, adherence, a status change) are named as the keywords of the
service they feed, so a view passes ``**form.cleaned_data`` with the record's subject
and its actor.
"""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Layout, Submit
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from trial.forms import DateInput, VersionField, yes_no_field

from .models import (
    SAE_CRITERIA,
    ActionTaken,
    AEOutcome,
    ContactOutcome,
    Relatedness,
    Severity,
    StatusEvent,
)


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


def _helper(*fields, submit, css_class="btn-primary") -> FormHelper:
    helper = FormHelper()
    helper.form_tag = False
    helper.layout = Layout(*fields, Submit("save", submit, css_class=css_class))
    return helper


class ContactAttemptForm(forms.Form):
    attempted_at = forms.DateTimeField(label=_("When"), widget=DateTimeInput())
    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=ContactOutcome.choices, widget=forms.RadioSelect
    )
    call_back_at = forms.DateTimeField(
        label=_("Call back at"), required=False, widget=DateTimeInput()
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=200)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attempted_at"].initial = timezone.localtime().replace(second=0, microsecond=0)
        self.helper = _helper(
            Div(
                Div("attempted_at", css_class="col-md-4"),
                Div("outcome", css_class="col-md-8"),
                css_class="row",
            ),
            Div(
                Div("call_back_at", css_class="col-md-4"),
                Div("note", css_class="col-md-8"),
                css_class="row",
            ),
            submit=_("Log the attempt"),
        )


class InterviewForm(forms.Form):
    started_at = forms.DateTimeField(label=_("Call started"), widget=DateTimeInput())
    ended_at = forms.DateTimeField(label=_("Call ended"), widget=DateTimeInput())
    disrupted = yes_no_field(_("Was the call disrupted?"))
    disruption_note = forms.CharField(label=_("What disrupted it"), required=False, max_length=200)
    remained_blind = forms.TypedChoiceField(
        label=_("Allocation"),
        choices=[
            ("yes", _("I did not learn the participant's allocation during this call")),
            ("no", _("I learned or suspect the participant's allocation")),
        ],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    unblinding_note = forms.CharField(
        label=_("How it became known"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    out_of_window_reason = forms.CharField(
        label=_("Reason, if the call is outside the visit window"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        now = timezone.localtime().replace(second=0, microsecond=0)
        self.fields["ended_at"].initial = now
        self.helper = _helper(
            Div(
                Div("started_at", css_class="col-md-4"),
                Div("ended_at", css_class="col-md-4"),
                css_class="row",
            ),
            "disrupted",
            "disruption_note",
            "remained_blind",
            "unblinding_note",
            "out_of_window_reason",
            submit=_("Finish the call"),
        )


class CompleteVisitForm(forms.Form):
    done_on = forms.DateField(label=_("Visit done on"), widget=DateInput())
    out_of_window_reason = forms.CharField(
        label=_("Reason, if outside the window"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["done_on"].initial = timezone.localdate()
        self.helper = _helper("done_on", "out_of_window_reason", submit=_("Mark the visit done"))


class MissedVisitForm(forms.Form):
    reason = forms.CharField(
        label=_("Why the visit was missed"), widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("reason", submit=_("Mark the visit missed"), css_class="btn-warning")


class ContactDetailsForm(forms.Form):
    phone = forms.RegexField(
        label=_("Telephone"),
        regex=r"^[0-9+() -]{5,30}$",
        error_messages={"invalid": _("Digits, spaces, +, - and () only.")},
    )
    alternative_phone = forms.RegexField(
        label=_("Alternative telephone"), required=False, regex=r"^[0-9+() -]{5,30}$"
    )
    best_time = forms.CharField(label=_("Best time to call"), required=False, max_length=100)
    reason = forms.CharField(label=_("Reason for change"), required=False)
    version = VersionField()

    FIELDS = ("phone", "alternative_phone", "best_time")

    def __init__(self, *args, correcting=False, **kwargs):
        super().__init__(*args, **kwargs)
        if correcting:
            self.fields["reason"].required = True
        else:
            del self.fields["reason"]
        self.helper = _helper(
            "phone",
            "alternative_phone",
            "best_time",
            *(["reason"] if correcting else []),
            "version",
            submit=_("Save"),
        )

    def details_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.FIELDS}


class AdverseEventForm(forms.Form):
    term = forms.CharField(label=_("Event (term)"), max_length=200)
    onset_date = forms.DateField(label=_("Onset"), widget=DateInput())
    end_date = forms.DateField(label=_("End (if resolved)"), required=False, widget=DateInput())
    severity = forms.ChoiceField(
        label=_("Severity"), choices=Severity.choices, widget=forms.RadioSelect
    )
    serious = yes_no_field(_("Serious?"))
    sae_criteria = forms.MultipleChoiceField(
        label=_("Seriousness criteria"),
        choices=SAE_CRITERIA,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    relatedness = forms.ChoiceField(
        label=_("Relatedness to study medication"), choices=Relatedness.choices
    )
    action_taken = forms.ChoiceField(label=_("Action taken"), choices=ActionTaken.choices)
    outcome = forms.ChoiceField(label=_("Outcome"), choices=AEOutcome.choices)
    reason = forms.CharField(label=_("Reason for change"), required=False)
    version = VersionField()

    def __init__(self, *args, correcting=False, **kwargs):
        super().__init__(*args, **kwargs)
        if correcting:
            self.fields["reason"].required = True
        else:
            del self.fields["reason"]
        self.helper = _helper(
            "term",
            Div(
                Div("onset_date", css_class="col-md-4"),
                Div("end_date", css_class="col-md-4"),
                css_class="row",
            ),
            "severity",
            "serious",
            "sae_criteria",
            Div(
                Div("relatedness", css_class="col-md-4"),
                Div("action_taken", css_class="col-md-4"),
                Div("outcome", css_class="col-md-4"),
                css_class="row",
            ),
            *(["reason"] if correcting else []),
            "version",
            submit=_("Save the adverse event"),
        )

    def event_data(self) -> dict:
        data = {k: self.cleaned_data[k] for k in self.fields if k not in {"reason", "version"}}
        data["sae_criteria"] = list(data["sae_criteria"])
        return data


class ReviewForm(forms.Form):
    note = forms.CharField(
        label=_("Investigator's review"), widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("note", submit=_("Record the review"))


class StatusChangeForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Change"), choices=StatusEvent.Kind.choices, widget=forms.RadioSelect
    )
    effective_date = forms.DateField(label=_("Date"), widget=DateInput())
    reason = forms.CharField(
        label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    decided_by = forms.ChoiceField(
        label=_("Withdrawal decided by"),
        required=False,
        choices=[("", "—"), *StatusEvent.DecidedBy.choices],
    )
    data_may_be_used = forms.TypedChoiceField(
        label=_("May the data collected so far be used?"),
        required=False,
        choices=[("", "—"), ("yes", _("Yes")), ("no", _("No"))],
        coerce=lambda value: value == "yes",
        empty_value=None,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["effective_date"].initial = timezone.localdate()
        self.helper = _helper(
            "kind",
            "effective_date",
            "reason",
            "decided_by",
            "data_may_be_used",
            submit=_("Record the change"),
            css_class="btn-warning",
        )


class AdherenceForm(forms.Form):
    counted_on = forms.DateField(label=_("Counted on"), widget=DateInput())
    cachets_returned = forms.IntegerField(label=_("Cachets returned"), min_value=0, max_value=300)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["counted_on"].initial = timezone.localdate()
        self.helper = _helper("counted_on", "cachets_returned", submit=_("Record adherence"))


class WorklistFilter(forms.Form):
    which = forms.ChoiceField(
        label=_("Show"),
        required=False,
        choices=[
            ("in_window", _("In window now")),
            ("today", _("Due today")),
            ("overdue", _("Overdue")),
            ("upcoming", _("Opening in 14 days")),
        ],
    )
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("window", _("Window closes")),
            ("target", _("Target date")),
            ("study_id", _("Study id")),
        ],
    )
