"""WTForms for the owners' pages; error messages are shown next to their fields."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

KIND_CHOICES = [
    SelectChoice("repository", "One or more repositories"),
    SelectChoice("owner", "A whole account or organisation, with its future repositories"),
    SelectChoice("file", "A file that leaks personal data or a secret"),
    SelectChoice("license", "Dispute the license verdict of a repository"),
]


class LookupForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = StringField(
        "Account or repository",
        validators=[DataRequired(), Length(max=2048)],
        description="For example octocat, octocat/hello-world or a URL.",
    )
    host = StringField("Host", default="github.com", validators=[Optional(), Length(max=253)])


class RequestForm(FlaskForm):
    kind = RadioField(
        "What should be removed?",
        choices=KIND_CHOICES,
        default="repository",
        validators=[DataRequired(message="Choose what should be removed.")],
    )
    host = StringField(
        "Host for names without one",
        default="github.com",
        validators=[DataRequired(), Length(max=253)],
    )
    scopes = TextAreaField(
        "Addresses, one per line",
        validators=[
            DataRequired(message="Paste at least one address or name."),
            Length(max=20_000),
        ],
        description="URLs, SSH remotes or owner/repository names, one per line.",
    )
    notes = TextAreaField(
        "Anything a reviewer should know (optional)", validators=[Optional(), Length(max=4000)]
    )


class ActionForm(FlaskForm):
    """A button on the status page: the token and the version the owner saw."""

    t = HiddenField(validators=[DataRequired()])
    etag = HiddenField(validators=[DataRequired()])
    account = StringField(
        "A member's account, for a co-signature (optional)",
        validators=[Optional(), Length(max=255)],
        description="Leave empty to prove authority over the account itself.",
    )
    address = StringField("Your e-mail address", validators=[Optional(), Length(max=320)])


class EmailConfirmForm(FlaskForm):
    t = HiddenField(validators=[DataRequired()])
