"""Forms of randomization: the shape of input. Domain rules live in services.

The list forms preselect random block sizes and random pack codes: with fixed
blocks and packs numbered by position, block boundaries are known to anyone,
so one code-break narrows down the arms of its block-mates (randomization.md).
The other choices stay available, and the page says why they are weaker.
"""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Layout, Submit
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from trial.forms import DateInput

from .models import PackCodeStyle, Template


def _int_list(value: str, field: str) -> list[int]:
    try:
        numbers = [int(part) for part in value.replace(" ", "").split(",") if part]
    except ValueError as error:
        raise forms.ValidationError(
            _("Enter whole numbers separated by commas."), code="invalid"
        ) from error
    if not numbers or any(n <= 0 for n in numbers):
        raise forms.ValidationError(_("Enter positive whole numbers separated by commas."))
    return numbers


TEMPLATE_CHOICES = [
    (Template.RANDOM_BLOCKS, _("Random block sizes (recommended)")),
    (Template.PLAN, Template.PLAN.label),
    (Template.DATASTEP, Template.DATASTEP.label),
]
PACK_CODE_CHOICES = [
    (PackCodeStyle.RANDOM, _("Random pack identifier with check digit (recommended)")),
    (PackCodeStyle.POSITION, PackCodeStyle.POSITION.label),
]
RECOMMENDED_BLOCK_SIZES = "2, 4, 6"
FIXED_SIZE_TAKES_ONE = _("This template uses one fixed block size: enter one number.")


class ListParametersForm(forms.Form):
    template = forms.ChoiceField(
        label=_("Template"), choices=TEMPLATE_CHOICES, initial=Template.RANDOM_BLOCKS
    )
    block_sizes = forms.CharField(
        label=_("Block sizes"),
        initial=RECOMMENDED_BLOCK_SIZES,
        help_text=_("Whole block lengths, e.g. 2, 4, 6 for random block sizes, or 4 for fixed."),
    )
    n_slots = forms.IntegerField(label=_("Number of slots"), min_value=1, max_value=100000)
    seed = forms.IntegerField(
        label=_("Seed (optional)"),
        required=False,
        min_value=1,
        max_value=2**31 - 2,
        help_text=_(
            "Leave empty to draw a seed at random (recommended). Enter one only to reproduce "
            "an existing SAS list."
        ),
    )

    def clean_block_sizes(self) -> list[int]:
        return _int_list(self.cleaned_data["block_sizes"], "block_sizes")

    def clean(self):
        cleaned = super().clean()
        sizes = cleaned.get("block_sizes")
        if (
            cleaned.get("template") in (Template.PLAN, Template.DATASTEP)
            and sizes
            and len(sizes) != 1
        ):
            self.add_error("block_sizes", FIXED_SIZE_TAKES_ONE)
        return cleaned


class ListCreateForm(ListParametersForm):
    name = forms.CharField(label=_("Name"), max_length=100, initial="MLT main list")
    arms = forms.CharField(
        label=_("Arms"), initial="MLT, PLACEBO", help_text=_("In order, separated by commas.")
    )
    ratio = forms.CharField(label=_("Ratio"), initial="1, 1", help_text=_("e.g. 1, 1 or 2, 1"))
    stratify_by_site = forms.BooleanField(
        label=_("One list per site (stratified by site, each with its own seed)"), required=False
    )
    pack_code_style = forms.ChoiceField(
        label=_("Pack codes"), choices=PACK_CODE_CHOICES, initial=PackCodeStyle.RANDOM
    )

    field_order = [
        "name",
        "template",
        "arms",
        "ratio",
        "block_sizes",
        "n_slots",
        "stratify_by_site",
        "seed",
        "pack_code_style",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            "name",
            Div(
                Div("template", css_class="col-md-4"),
                Div("arms", css_class="col-md-4"),
                Div("ratio", css_class="col-md-4"),
                css_class="row",
            ),
            Div(
                Div("block_sizes", css_class="col-md-4"),
                Div("n_slots", css_class="col-md-4"),
                Div("pack_code_style", css_class="col-md-4"),
                css_class="row",
            ),
            "stratify_by_site",
            "seed",
            Submit("create", _("Generate and seal the list")),
        )

    def clean_arms(self) -> list[str]:
        arms = [part.strip() for part in self.cleaned_data["arms"].split(",") if part.strip()]
        if len(arms) < 2:
            raise forms.ValidationError(_("Enter at least two arms."))
        if len(set(arms)) != len(arms):
            raise forms.ValidationError(_("Arm names must be different."))
        return arms

    def clean_ratio(self) -> list[int]:
        return _int_list(self.cleaned_data["ratio"], "ratio")

    def clean(self):
        cleaned = super().clean()
        arms, ratio = cleaned.get("arms"), cleaned.get("ratio")
        if arms and ratio and len(arms) != len(ratio):
            self.add_error("ratio", _("Give one ratio number per arm."))
        if cleaned.get("stratify_by_site") and cleaned.get("seed"):
            self.add_error(
                "seed", _("Stratified lists each draw their own seed; leave the seed empty.")
            )
        return cleaned


class ListExtendForm(ListParametersForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Div(
                Div("template", css_class="col-md-4"),
                Div("block_sizes", css_class="col-md-4"),
                Div("n_slots", css_class="col-md-4"),
                css_class="row",
            ),
            "seed",
            Submit("extend", _("Generate and seal the extension")),
        )


class RandomizeForm(forms.Form):
    eligibility_reconfirmed = forms.BooleanField(
        label=_(
            "I have re-confirmed today that the participant meets every eligibility criterion "
            "and that the baseline data are complete."
        ),
        required=True,
        error_messages={"required": _("Re-confirm eligibility before randomizing.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            "eligibility_reconfirmed", Submit("randomize", _("Randomize"), css_class="btn-danger")
        )


class DispenseForm(forms.Form):
    dispensed_on = forms.DateField(label=_("Date the pack was handed out"), widget=DateInput())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dispensed_on"].initial = timezone.localdate()
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout("dispensed_on", Submit("dispense", _("Record dispensing")))


class CodeBreakForm(forms.Form):
    reason = forms.CharField(
        label=_("Clinical reason for breaking the code"),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    password = forms.CharField(
        label=_("Your password (again)"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            "reason", "password", Submit("break", _("Break the code"), css_class="btn-danger")
        )
