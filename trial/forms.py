"""Forms of the participant core: the shape of input. Domain rules live in services."""

from __future__ import annotations

from crispy_forms.bootstrap import InlineRadios
from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Field, Fieldset, Layout, Submit
from django import forms
from django.contrib import messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .eligibility import ANSWERED_CRITERIA
from .labels import CRITERION_LABELS
from .models import Baseline, ChemoRegimen, ProcedureType, Screening, Sex, SurgicalSite


class VersionField(forms.CharField):
    """The hidden version an edit form was loaded with (``trial.versions``)."""

    def __init__(self, **kwargs):
        super().__init__(widget=forms.HiddenInput, required=False, **kwargs)


def show_stale(form, stale, *, token: str) -> None:
    """After a refused save over a newer version: keep what was typed, list what
    changed since (field, from, to) at the top, and carry the fresh version so
    that saving again is a decision taken knowing the newer values."""
    data = form.data.copy()
    data[form.add_prefix("version")] = token
    form.data = data
    form.add_error(None, stale.messages[0])
    for change in stale.changes:
        field = form.fields.get(change.field)
        label = field.label if field is not None else change.field
        form.add_error(
            None,
            _("%(field)s: %(then)s → %(now)s")
            % {"field": label, "then": _shown(change.then), "now": _shown(change.now)},
        )


def _shown(value) -> str:
    if value in (None, "", [], {}):
        return "—"
    if value is True:
        return str(_("Yes"))
    if value is False:
        return str(_("No"))
    return str(value)


def form_errors_as_messages(request, form) -> None:
    """A form's errors as messages, each after its field's label, for a view that
    redirects back to a page with several forms instead of showing one again."""
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for message in errors:
            messages.error(request, f"{label}: {message}")


def service_errors_as_messages(request, error) -> None:
    """A service's ValidationError as messages (for the same redirecting views)."""
    for message in error.messages:
        messages.error(request, message)


def apply_errors(form, error) -> None:
    """Put a service's ValidationError next to the fields it names (else at the top)."""
    if hasattr(error, "error_dict"):
        for field, field_errors in error.error_dict.items():
            target = field if field in form.fields else None
            for item in field_errors:
                form.add_error(target, item)
    else:
        for message in error.messages:
            form.add_error(None, message)


YES_NO = [("yes", _("Yes")), ("no", _("No"))]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def yes_no_field(label, **kwargs) -> forms.TypedChoiceField:
    """A required yes/no question with no preset answer: the nurse must choose."""
    return forms.TypedChoiceField(
        label=label,
        choices=YES_NO,
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        **kwargs,
    )


class ScreeningForm(forms.Form):
    screening_date = forms.DateField(label=_("Screening date"), widget=DateInput())
    initials = forms.RegexField(
        label=_("Initials"),
        regex=r"^[A-Za-z]{1,5}$",
        max_length=5,
        error_messages={"invalid": _("Initials are one to five letters.")},
        help_text=_("Only initials and the hospital number identify the patient."),
    )
    hospital_number = forms.RegexField(
        label=_("Hospital number"),
        regex=r"^[A-Za-z0-9-]{1,30}$",
        max_length=30,
        error_messages={"invalid": _("Letters, digits and hyphens only.")},
    )
    date_of_birth = forms.DateField(label=_("Date of birth"), widget=DateInput())
    sex = forms.ChoiceField(
        label=_("Sex"),
        choices=Sex.choices,
        widget=forms.RadioSelect,
    )
    confirmed_diagnosis = yes_no_field(
        _("Primary unilateral breast cancer, scheduled for a breast procedure")
    )
    scheduled_procedure_date = forms.DateField(
        label=_("Scheduled procedure date"), widget=DateInput()
    )
    confirm_duplicate = forms.BooleanField(
        label=_("I have checked the earlier screening and this is a new screening episode"),
        required=False,
    )

    def __init__(self, *args, site_choices=None, may_override: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["screening_date"].initial = timezone.localdate()
        if may_override:
            self.fields["duplicate_override_reason"] = forms.CharField(
                label=_("Investigator: why this is a different person with the same number"),
                required=False,
                widget=forms.Textarea(attrs={"rows": 2}),
                help_text=_(
                    "Only when the hospital number is already enrolled and belongs to "
                    "someone else now. Audited."
                ),
            )
        if site_choices is not None and len(site_choices) > 1:
            self.fields["site"] = forms.ModelChoiceField(label=_("Site"), queryset=site_choices)
        for key in ANSWERED_CRITERIA:
            self.fields[key] = yes_no_field(CRITERION_LABELS[key])
            self.fields[f"{key}_date"] = forms.DateField(
                label=_("Evidence date"),
                widget=DateInput(),
                required=False,
                help_text=_("Defaults to the screening date."),
            )
        # Shown only once the hospital number turns out to have been screened before.
        self.duplicate_block = Div(
            "confirm_duplicate",
            *(["duplicate_override_reason"] if may_override else []),
            css_class="d-none",
        )
        self.helper = FormHelper()
        self.helper.form_tag = False
        criteria_rows = [
            Div(
                Div(InlineRadios(key), css_class="col-md-8"),
                Div(Field(f"{key}_date"), css_class="col-md-4"),
                css_class="row border-bottom pt-2",
            )
            for key in ANSWERED_CRITERIA
        ]
        self.helper.layout = Layout(
            Fieldset(
                _("Patient"),
                *(["site"] if "site" in self.fields else []),
                Div(
                    Div("screening_date", css_class="col-md-3"),
                    Div("initials", css_class="col-md-3"),
                    Div("hospital_number", css_class="col-md-3"),
                    Div("date_of_birth", css_class="col-md-3"),
                    css_class="row",
                ),
                Div(
                    Div(InlineRadios("sex"), css_class="col-md-3"),
                    Div(InlineRadios("confirmed_diagnosis"), css_class="col-md-6"),
                    Div("scheduled_procedure_date", css_class="col-md-3"),
                    css_class="row",
                ),
            ),
            Fieldset(
                _("Exclusion criteria (age is computed from the date of birth)"),
                HTML(
                    '<p class="text-body-secondary small">'
                    + str(_("Answer yes when the exclusion applies to the patient."))
                    + "</p>"
                ),
                *criteria_rows,
            ),
            self.duplicate_block,
            Submit("save", _("Record screening")),
        )

    def ask_duplicate_confirmation(self) -> None:
        self.duplicate_block.css_class = "alert alert-warning"

    def answers(self) -> dict[str, bool]:
        return {key: self.cleaned_data[key] for key in ANSWERED_CRITERIA}

    def evidence_dates(self) -> dict:
        return {
            key: self.cleaned_data.get(f"{key}_date")
            for key in ANSWERED_CRITERIA
            if self.cleaned_data.get(f"{key}_date")
        }


class ConsentForm(forms.Form):
    consent_date = forms.DateField(label=_("Date of consent"), widget=DateInput())
    form_version = forms.ModelChoiceField(label=_("Consent form version"), queryset=None)
    language = forms.ChoiceField(
        label=_("Questionnaire language"),
        choices=[("zh-hans", "中文"), ("en", "English")],
        required=False,
        initial="zh-hans",
        help_text=_("The language the participant will answer the questionnaires in."),
    )

    def clean_language(self) -> str:
        return self.cleaned_data["language"] or "zh-hans"

    signed_form_filed = forms.BooleanField(
        label=_("The signed consent form is filed in the investigator site file"),
        required=True,
        error_messages={"required": _("Confirm that the signed consent form is filed.")},
    )

    def __init__(self, *args, versions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["form_version"].queryset = versions
        self.fields["consent_date"].initial = timezone.localdate()
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            "consent_date",
            "form_version",
            "language",
            "signed_form_filed",
            Submit("consent", _("Record consent and enrol")),
        )


class DeclineForm(forms.Form):
    declined_on = forms.DateField(label=_("Date"), widget=DateInput())
    reason = forms.CharField(
        label=_("Reason for declining"), widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["declined_on"].initial = timezone.localdate()
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            "declined_on", "reason", Submit("decline", _("Record refusal"), css_class="btn-warning")
        )


class VasWidget(forms.NumberInput):
    """A 0–100 mm line with no preset mark; the number box is the keyboard path.

    The range input only appears (and only sets the value) once the person has
    placed the mark; until then the value is empty, so the form cannot be
    saved with a default score nobody chose.
    """

    template_name = "widgets/vas.html"

    def __init__(self, attrs=None):
        base = {"min": 0, "max": 100, "step": 1, "inputmode": "numeric"}
        super().__init__(attrs={**base, **(attrs or {})})


class BaselineForm(forms.Form):
    height_cm = forms.DecimalField(
        label=_("Height (cm)"), max_digits=4, decimal_places=1, help_text=_("120–220 cm")
    )
    weight_kg = forms.DecimalField(
        label=_("Weight (kg)"), max_digits=4, decimal_places=1, help_text=_("30–250 kg")
    )
    comorbidity = yes_no_field(_("Co-morbidity"))
    comorbidity_list = forms.CharField(
        label=_("Co-morbidities"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line; required when co-morbidity is yes."),
    )
    surgical_site = forms.ChoiceField(
        label=_("Surgical site"),
        choices=SurgicalSite.choices,
        widget=forms.RadioSelect,
    )
    preop_vas_mm = forms.IntegerField(
        label=_("Preoperative pain (VAS, mm)"),
        widget=VasWidget(),
        help_text=_("0 = no pain, 100 = worst pain imaginable. Place the mark or type the mm."),
    )
    procedure_type = forms.ChoiceField(
        label=_("Type of procedure"),
        choices=ProcedureType.choices,
        widget=forms.RadioSelect,
    )
    procedure_date = forms.DateField(label=_("Procedure date"), widget=DateInput())
    chemo_regimen = forms.ChoiceField(
        label=_("Planned postoperative chemotherapy"),
        choices=[("", "---------"), *ChemoRegimen.choices],
    )
    radiotherapy = yes_no_field(_("Postoperative radiotherapy"))
    hormone_therapy = yes_no_field(_("Hormone therapy"))
    targeted_therapy = yes_no_field(_("Targeted therapy"))
    reason = forms.CharField(
        label=_("Reason for change"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    version = VersionField()

    def __init__(self, *args, correcting: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if correcting:
            self.fields["reason"].required = True
            self.fields["reason"].error_messages["required"] = _(
                "A reason for the change is required."
            )
        else:
            del self.fields["reason"]
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Fieldset(
                _("Body"),
                Div(
                    Div("height_cm", css_class="col-md-4"),
                    Div("weight_kg", css_class="col-md-4"),
                    css_class="row",
                ),
                InlineRadios("comorbidity"),
                Div("comorbidity_list", data_toggle_when="comorbidity"),
            ),
            Fieldset(
                _("Surgery and pain"),
                InlineRadios("surgical_site"),
                "preop_vas_mm",
                Div(
                    Div(InlineRadios("procedure_type"), css_class="col-md-6"),
                    Div("procedure_date", css_class="col-md-6"),
                    css_class="row",
                ),
            ),
            Fieldset(
                _("Planned treatment"),
                "chemo_regimen",
                InlineRadios("radiotherapy"),
                InlineRadios("hormone_therapy"),
                InlineRadios("targeted_therapy"),
            ),
            *(["reason"] if correcting else []),
            "version",
            Submit("save", _("Save baseline")),
        )

    @classmethod
    def initial_from(cls, baseline: Baseline, *, version: str) -> dict:
        initial = {
            name: getattr(baseline, name)
            for name in cls.base_fields
            if name not in {"reason", "version"}
        }
        for name in ("comorbidity", "radiotherapy", "hormone_therapy", "targeted_therapy"):
            initial[name] = "yes" if initial[name] else "no"
        initial["version"] = version
        return initial

    def baseline_data(self) -> dict:
        return {
            name: self.cleaned_data[name]
            for name in self.fields
            if name not in {"reason", "version"}
        }


class ScreeningLogFilter(forms.Form):
    date_from = forms.DateField(label=_("From"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("To"), required=False, widget=DateInput())
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        required=False,
        choices=[
            ("", _("All")),
            ("eligible", _("Eligible")),
            ("ineligible", _("Not eligible")),
            (Screening.ConsentStatus.PENDING, _("Awaiting consent")),
            (Screening.ConsentStatus.CONSENTED, _("Consented")),
            (Screening.ConsentStatus.DECLINED, _("Declined")),
        ],
    )


class AuditFilter(forms.Form):
    subject = forms.CharField(label=_("Participant or screening id"), required=False)
    username = forms.CharField(label=_("User"), required=False)
    model = forms.ChoiceField(label=_("Record type"), required=False)
    date_from = forms.DateField(label=_("From"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("To"), required=False, widget=DateInput())

    def __init__(self, *args, models=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [("", _("All")), *((m, m) for m in models)]


class ProfileForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        choices=[("", _("Follow my browser")), ("en", "English"), ("zh-hans", "中文")],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout("language", Submit("save", _("Save")))


class SecondFactorForm(forms.Form):
    """A code from the authenticator, as typed (the page lays its field out itself);
    spaces are dropped, since apps show the code in two groups."""

    token = forms.CharField(required=False)

    def clean_token(self) -> str:
        return "".join(self.cleaned_data["token"].split())
