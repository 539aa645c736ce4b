from __future__ import annotations

from typing import Any

from rest_framework import serializers

from boxvault.accounts.models import Account, Member
from boxvault.core.operations import GRANTABLE, SERVICES
from boxvault.security.models import AuditEvent

_OPERATIONS = [str(op) for op in GRANTABLE]


class AccountSerializer(serializers.ModelSerializer[Account]):
    location_label = serializers.CharField(read_only=True)
    trial_ends_at = serializers.SerializerMethodField()

    class Meta:
        model = Account
        fields = [
            "id",
            "name",
            "email",
            "location",
            "location_label",
            "created_at",
            "trial_ends_at",
            "removal_due_at",
        ]
        read_only_fields = ["id", "location", "created_at", "removal_due_at"]
        extra_kwargs = {"name": {"max_length": 120, "allow_blank": False}}

    def get_trial_ends_at(self, account: Account) -> Any:
        trial = getattr(account, "trial", None)
        return trial.ends_at if trial else None


class MemberSerializer(serializers.ModelSerializer[Member]):
    email = serializers.EmailField(source="user.email", read_only=True)
    first_name = serializers.CharField(
        source="user.first_name", max_length=150, required=False, allow_blank=True
    )
    last_name = serializers.CharField(
        source="user.last_name", max_length=150, required=False, allow_blank=True
    )
    operations = serializers.ListField(child=serializers.ChoiceField(choices=_OPERATIONS), required=False)
    services = serializers.ListField(child=serializers.ChoiceField(choices=list(SERVICES)), required=False)
    role = serializers.ChoiceField(choices=Member.Role.choices, required=False)
    two_factor = serializers.SerializerMethodField()
    sign_in = serializers.SerializerMethodField(help_text="how the member signs in: E-mail, Google, SAML...")

    class Meta:
        model = Member
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "role",
            "operations",
            "services",
            "two_factor",
            "sign_in",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]

    def get_two_factor(self, member: Member) -> bool:
        from allauth.mfa.models import Authenticator

        return Authenticator.objects.filter(user_id=member.user_id, type=Authenticator.Type.TOTP).exists()

    def get_sign_in(self, member: Member) -> list[str]:
        from boxvault.accounts.services import member_with_flags

        return [t for t in member_with_flags([member])[0]["sign_in"].split(", ") if t]


class NewMemberSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField(max_length=254)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    role = serializers.ChoiceField(choices=Member.Role.choices, default=Member.Role.CUSTOM)
    operations = serializers.ListField(child=serializers.ChoiceField(choices=_OPERATIONS), default=list)
    services = serializers.ListField(child=serializers.ChoiceField(choices=list(SERVICES)), default=list)
    password = serializers.CharField(
        max_length=128,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="Omit to send an invitation e-mail instead.",
    )


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    activity_label = serializers.CharField(source="get_activity_display", read_only=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "activity",
            "activity_label",
            "service",
            "status",
            "task",
            "performed_by",
            "ip",
            "description",
        ]


class MeSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField()
    account = serializers.IntegerField()
    role = serializers.CharField()
    operations = serializers.ListField(child=serializers.CharField())
    services = serializers.ListField(child=serializers.CharField())
