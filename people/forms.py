"""Forms of people administration: the shape of input. The rules live in the services."""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Layout, Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from trial.models import Site
from trial.roles import role_label

from .services import PersonInput


class PersonForm(forms.Form):
    """A person's details, sites and blinded roles (unblinded roles are requested)."""

    username = forms.RegexField(
        label=_("Username"),
        regex=r"^[\w.@+-]{1,150}$",
        max_length=150,
        error_messages={"invalid": _("Letters, digits and @ . + - _ only.")},
    )
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("E-mail address"), required=False)
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        choices=[("", _("Follow the browser")), ("en", "English"), ("zh-hans", "中文")],
    )
    roles = forms.MultipleChoiceField(
        label=_("Blinded roles"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Roles that see allocations are requested below and approved by another."),
    )
    all_sites = forms.BooleanField(label=_("Works at every site"), required=False)
    sites = forms.ModelMultipleChoiceField(
        label=_("Sites"),
        queryset=Site.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    version = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, blinded_roles, inviting: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["roles"].choices = [(name, role_label(name)) for name in sorted(blinded_roles)]
        self.fields["sites"].queryset = Site.objects.filter(active=True)
        if not inviting:
            del self.fields["username"]
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            *(["username"] if inviting else []),
            "first_name",
            "last_name",
            "email",
            "language",
            "roles",
            "all_sites",
            "sites",
            "version",
            Submit("save", _("Invite and send the link") if inviting else _("Save")),
        )

    def person_input(self) -> PersonInput:
        data = self.cleaned_data
        return PersonInput(
            first_name=data["first_name"],
            last_name=data["last_name"],
            email=data["email"],
            language=data["language"],
            sites=list(data["sites"]),
            all_sites=data["all_sites"],
            roles=list(data["roles"]),
        )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )

    def __init__(self, *args, submit_label, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout("reason", Submit("go", submit_label))


class RoleRequestForm(forms.Form):
    role = forms.ChoiceField(label=_("Unblinded role"))
    reason = forms.CharField(
        label=_("Why this person needs it"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
    )

    def __init__(self, *args, unblinded_roles, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(name, role_label(name)) for name in sorted(unblinded_roles)]
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            "role", "reason", Submit("request", _("Request approval"), css_class="btn-warning")
        )


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("approve", _("Approve")), ("reject", _("Reject"))],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("Note (why)"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )
    password = forms.CharField(
        label=_("Your password, to sign the decision"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout("decision", "note", "password", Submit("decide", _("Decide")))
