"""Forms of the steward UI: they parse and validate input; the services decide."""
from __future__ import annotations

from django import forms

from mdm.models import EntityType, SourceSystem


class VersionedForm(forms.Form):
    # The task version the steward was shown: the optimistic lock of the action.
    version = forms.IntegerField(min_value=0)


class MatchActionForm(VersionedForm):
    survivor = forms.CharField(required=False, max_length=20)
    note = forms.CharField(required=False, max_length=500)


class ConflictForm(VersionedForm):
    choice = forms.CharField(max_length=40, help_text="record:<id> to keep that record's value, or 'custom'")
    custom_value = forms.CharField(required=False, max_length=1000, strip=True)
    reason = forms.CharField(max_length=500, strip=True)

    def clean(self):
        data = super().clean()
        choice = data.get("choice") or ""
        data["record_id"], data["value"] = None, None
        if choice == "custom":
            if not data.get("custom_value"):
                self.add_error("custom_value", "Type the value to use.")
            data["value"] = data.get("custom_value")
        elif choice.startswith("record:") and choice[7:].isdigit():
            data["record_id"] = int(choice[7:])
        else:
            self.add_error("choice", "Pick one of the values or type one.")
        return data


class CloseTaskForm(VersionedForm):
    RESOLUTIONS = [("fixed_at_source", "Fixed at the source"), ("dismissed", "Dismissed (not a problem)")]
    resolution = forms.ChoiceField(choices=RESOLUTIONS)
    note = forms.CharField(required=False, max_length=2000)


class AssignForm(VersionedForm):
    assignee = forms.ModelChoiceField(queryset=None, required=False, to_field_name="username")

    def __init__(self, *args, users, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = users


class CommentForm(forms.Form):
    text = forms.CharField(max_length=5000, strip=True)


class OverrideForm(forms.Form):
    attribute = forms.CharField(max_length=60)
    value = forms.CharField(max_length=1000, strip=True)
    reason = forms.CharField(max_length=500, strip=True)


class ClearOverrideForm(forms.Form):
    attribute = forms.CharField(max_length=60)
    reason = forms.CharField(required=False, max_length=500)


class NoteForm(forms.Form):
    note = forms.CharField(required=False, max_length=500)


class SplitForm(forms.Form):
    records = forms.TypedMultipleChoiceField(coerce=int, choices=())
    note = forms.CharField(required=False, max_length=500)

    def __init__(self, *args, member_ids, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["records"].choices = [(i, str(i)) for i in member_ids]


class UploadForm(forms.Form):
    source = forms.ModelChoiceField(queryset=SourceSystem.objects.filter(active=True), to_field_name="code",
                                    empty_label=None)
    entity_type = forms.ModelChoiceField(queryset=EntityType.objects.filter(active=True), to_field_name="code",
                                         empty_label=None)
    file = forms.FileField(help_text="CSV with a header row, or JSON lines (one object per line).")
    file_format = forms.ChoiceField(choices=[("", "Detect from the name"), ("csv", "CSV"), ("jsonl", "JSON lines")],
                                    required=False)
    encoding = forms.CharField(required=False, max_length=40, help_text="Blank: detect (UTF-8, else Windows-1252).")
    id_field = forms.CharField(required=False, max_length=100,
                               help_text="Column holding the source ID; blank: the source's mapping (default 'id').")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size == 0:
            raise forms.ValidationError("The file is empty.")
        name = upload.name.lower()
        if not name.endswith((".csv", ".jsonl", ".ndjson", ".json", ".txt")):
            raise forms.ValidationError("Upload a .csv or .jsonl file.")
        return upload


class RuleDraftForm(forms.Form):
    rules = forms.CharField(widget=forms.Textarea(attrs={"class": "code", "spellcheck": "false"}), max_length=100_000,
                            help_text="The survivorship section as YAML: default, attributes, critical, price_tolerance.")
    note = forms.CharField(required=False, max_length=255, help_text="Why this change (kept with the version).")
