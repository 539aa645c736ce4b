"""Schemathesis against the served OpenAPI schema of /api/v1/, in process, as an administrator and as a
restricted member of a seeded account, with every check on: no 5xx, no undocumented status code or content
type, every response matching its schema, schema-valid requests accepted and invalid ones rejected.

`positive_data_acceptance` is relaxed only where validity depends on more than the schema can say (listed in
SEMANTIC with the reason): those answer 400 with a `detail` sentence, which the other checks still verify.
BOXVAULT_FUZZ_EXAMPLES sets the examples per operation (CI: the default; a longer run by hand).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from backups.fixtures import make_task  # noqa: F401 - fixture

EXAMPLES = int(os.environ.get("BOXVAULT_FUZZ_EXAMPLES", "8"))
SEMANTIC = {
    "POST /api/v1/tasks/": "the Box connection is checked against Box (and the operator's allowed API URLs)",
    "PATCH /api/v1/account/": "the account e-mail must be a deliverable address",
    "POST /api/v1/members/": "an e-mail already in use, or a password the password policy refuses",
    "POST /api/v1/restores/": "the snapshot, its paths and the destination user must exist in the task",
    "POST /api/v1/exports/": "the snapshot and its paths must exist; a target must be reachable",
    "GET /api/v1/snapshots/{ref}/tree/": "the path must lie inside the snapshot",
    "GET /api/v1/snapshots/{ref}/versions/": "the snapshot must exist and the path name a file inside it",
    "POST /api/v1/restores/versions/": "the snapshot, the file and that version of it must be in the backup",
    "GET /api/v1/activity/": "task and activity filters take the account's own values only",
    "GET /api/v1/jobs/": "task and initiator filters take the account's own values only",
    "GET /api/v1/audit/": "'until' must not be before 'since' (nothing could match: said, not shown empty)",
    "POST /api/v1/erasures/": "the task's Box user and the paths must exist in its snapshots",
    "POST /api/v1/billing/cards/": "card payments need Stripe keys (none here)",
    "PUT /api/v1/billing/cards/{card_id}/": "card payments need Stripe keys (none here)",
    "DELETE /api/v1/billing/cards/{card_id}/": "card payments need Stripe keys (none here)",
    "PUT /api/v1/billing/details/": "the currency must be one offered, the country one that exists",
    "POST /api/v1/billing/subscribe/": "a monthly plan needs a card; a tax ID where the country requires one",
    "POST /api/v1/notifications/recipients/": "an address already a recipient; Django's e-mail rules",
    "PUT /api/v1/notifications/recipients/{id}/": "an address already a recipient; Django's e-mail rules",
    "PATCH /api/v1/notifications/recipients/{id}/": "an address already a recipient; Django's e-mail rules",
    "POST /api/v1/security/ip-rules/": "one of addresses/range/cidr; the list must keep the caller's IP",
    "PUT /api/v1/security/policy/": "IP restrictions turn on only with entries that keep the caller's IP",
    "PUT /api/v1/security/saml/": "SAML turns on only with IdP metadata that is SAML and reachable",
}

pytestmark = [pytest.mark.django_db(transaction=True)]


def _run(schema: Any, token: str) -> dict[str, str]:
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def check(case: Any) -> None:
            excluded = [positive_data_acceptance] if operation.label in SEMANTIC else []
            case.call_and_validate(headers={"Authorization": f"Token {token}"}, excluded_checks=excluded)

        try:
            check()
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures[operation.label] = str(exc)[:1500]
    return failures


def test_api_fuzzed_as_administrator_and_restricted_member(
    admin: Any,
    settings: Any,
    make_task: Any,  # noqa: F811 - the imported fixture
) -> None:
    from django.core.wsgi import get_wsgi_application

    from boxvault.accounts.access import for_user
    from boxvault.accounts.services import add_member
    from boxvault.api.tokens import create_token
    from boxvault.core import clock
    from boxvault.jobs.models import Job
    from portal.fixtures import PASSWORD

    settings.BOXVAULT_BILLING = True
    task = make_task()
    Job.objects.create(
        account=admin.account, kind="backup", task_id=task.pk, task_name=task.name, created_at=clock.now()
    )
    restricted = add_member(
        for_user(admin.user),
        email="fuzz-member@a.example",
        password=PASSWORD,
        operations=["view_tasks", "view_activity", "preview_data"],
        services=["box"],
    )
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    found = {}
    for label, user in (("administrator", admin.user), ("restricted member", restricted.user)):
        failures = _run(schema, create_token(user, "fuzz")[1])
        found.update({f"[{label}] {op}": text for op, text in failures.items()})
    assert found == {}, "\n\n".join(f"== {op}\n{text}" for op, text in found.items())
