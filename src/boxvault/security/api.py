"""`/api/v1/security/`: policies and the IP allow-list (SAML in `saml_api`). Reading needs "view account
settings"; changing is Administrator-only. Routed from api_urls.py."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from boxvault.core.api import AccountScopedMixin
from boxvault.core.operations import Operation
from boxvault.security import policy as services
from boxvault.security import saml
from boxvault.security.models import IpRule

_READ_WRITE = {"GET": Operation.VIEW_SETTINGS, "*": Operation.MANAGE_ACCOUNT}


class PolicySerializer(serializers.Serializer[Any]):
    enforce_2fa = serializers.BooleanField(required=False)
    password_max_age_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=services.MAX_PASSWORD_DAYS
    )
    ip_restrictions = serializers.BooleanField(required=False)


class PolicyView(AccountScopedMixin, generics.GenericAPIView[Any]):
    """Account-wide policies: enforced 2FA, password expiration (days, null for never), and IP restrictions
    on/off."""

    serializer_class = PolicySerializer
    operations = _READ_WRITE

    def _current(self) -> dict[str, Any]:
        policy = services.policy_of_account(self.access.account)
        return {
            "enforce_2fa": bool(policy and policy.enforce_2fa),
            "password_max_age_days": policy.password_max_age_days if policy else None,
            "ip_restrictions": bool(policy and policy.ip_restrictions),
        }

    def get(self, request: Request) -> Response:
        return Response(self._current())

    def put(self, request: Request) -> Response:
        incoming = self.get_serializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = {**self._current(), **incoming.validated_data}
        services.update_policy(
            self.access,
            enforce_2fa=data["enforce_2fa"],
            password_max_age_days=data["password_max_age_days"],
            request=request._request,
        )
        if "ip_restrictions" in incoming.validated_data:
            services.set_ip_restrictions(self.access, data["ip_restrictions"], request=request._request)
        return Response(self._current())


class RangeSerializer(serializers.Serializer[Any]):
    # "from" is a keyword: declared under another name and renamed below
    start = serializers.CharField(max_length=64)
    to = serializers.CharField(max_length=64)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["from"] = self.fields.pop("start")


class IpRuleSerializer(serializers.ModelSerializer[IpRule]):
    addresses = serializers.ListField(
        child=serializers.CharField(max_length=5000), required=False, write_only=True, max_length=200
    )
    range = RangeSerializer(required=False, write_only=True)
    cidr = serializers.CharField(max_length=64, required=False, write_only=True)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    class Meta:
        model = IpRule
        fields = ["id", "description", "kind", "value", "created_at", "addresses", "range", "cidr"]
        read_only_fields = ["id", "kind", "value", "created_at"]


class IpRuleViewSet(
    AccountScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[IpRule],
):
    """Trusted IP addresses. Create with `{description, addresses: [..]}`, `{description, range: {from, to}}`
    or `{description, cidr}`; the first entry turns IP restrictions on. A list that would exclude the
    caller's own address is refused (400)."""

    serializer_class = IpRuleSerializer
    queryset = IpRule.objects.none()
    operations = _READ_WRITE
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[IpRule]:
        return self.scoped(IpRule.objects.order_by("id"))

    @extend_schema(request=IpRuleSerializer, responses=IpRuleSerializer)
    def create(self, request: Request) -> Response:
        incoming = self.get_serializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        span = data.get("range")
        rule = services.parse_rule_input(
            addresses=data.get("addresses"),
            range_=(span["start"], span["to"]) if span else None,  # "from" arrives as its source
            cidr=data.get("cidr"),
        )
        created = services.add_ip_rule(
            self.access, description=data.get("description", ""), rule=rule, request=request._request
        )
        return Response(IpRuleSerializer(created).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk: str) -> Response:
        services.delete_ip_rule(self.access, int(pk), request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SamlSerializer(serializers.Serializer[Any]):
    enabled = serializers.BooleanField(required=False)
    slug = serializers.CharField(required=False, allow_blank=True, max_length=63)
    metadata_url = serializers.CharField(required=False, allow_blank=True, max_length=500)
    metadata_xml = serializers.CharField(required=False, allow_blank=True, max_length=saml.MAX_METADATA)
    domains = serializers.ListField(
        child=serializers.CharField(max_length=253), required=False, max_length=100
    )
    create_members = serializers.BooleanField(required=False)
    default_role = serializers.ChoiceField(choices=list(saml.ROLES), required=False)
    default_operations = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=50
    )


class SamlView(AccountScopedMixin, generics.GenericAPIView[Any]):
    """SAML single sign-on: PUT `{enabled, metadata_url | metadata_xml, slug, domains, create_members,
    default_role, default_operations}`; the answer adds the SP entity id, ACS URL and SP metadata URL to give
    the IdP. Metadata that is not SAML, or a URL on a private network, answers 400."""

    serializer_class = SamlSerializer
    operations = _READ_WRITE

    def _current(self, request: Request) -> dict[str, Any]:
        config = saml.config_of(self.access.account)
        if config is None:
            return {
                "enabled": False,
                "slug": None,
                "idp_entity_id": "",
                "domains": [],
                "create_members": False,
            }
        return {
            "enabled": config.enabled,
            "slug": config.slug,
            "idp_entity_id": config.idp_entity_id,
            "metadata_url": config.metadata_url,
            "domains": config.domains,
            "create_members": config.create_members,
            "default_role": config.default_role,
            "default_operations": config.default_operations,
            **saml.sp_urls(config.slug, request._request),
        }

    def get(self, request: Request) -> Response:
        return Response(self._current(request))

    def put(self, request: Request) -> Response:
        incoming = self.get_serializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        config = saml.config_of(self.access.account)
        saml.update_saml(
            self.access,
            saml.SamlInput(
                enabled=data.get("enabled", bool(config and config.enabled)),
                slug=data.get("slug") or None,
                metadata_url=data.get("metadata_url") or None,
                metadata_xml=data.get("metadata_xml") or None,
                domains=data.get("domains", config.domains if config else []),
                create_members=data.get("create_members", bool(config and config.create_members)),
                default_role=data.get("default_role", config.default_role if config else "custom"),
                default_operations=data.get(
                    "default_operations", config.default_operations if config else []
                ),
            ),
            request=request._request,
        )
        return Response(self._current(request))
