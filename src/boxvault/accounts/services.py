"""Every change to accounts and members. Each function is one transaction that also writes its audit row;
e-mail leaves only after the commit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.http import HttpRequest

from boxvault.accounts.access import Access
from boxvault.accounts.invitations import invitation_link
from boxvault.accounts.models import Account, Member, User
from boxvault.core import clock
from boxvault.core.errors import ServiceError
from boxvault.core.operations import GRANTABLE, LABELS, SERVICES, Operation
from boxvault.security.models import AuditEvent
from boxvault.security.services import record

Activity = AuditEvent.Activity
# Sent inside the purge transaction, before the rows go: receivers remove what lives outside the database
# (repositories, exports) for that account only.
account_purging = Signal()
# Sent inside the creation transaction: the billing app starts the trial (accounts does not import billing).
account_created = Signal()


def _clean_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ServiceError("Enter a valid e-mail address.") from exc
    return email


def _check_password(password: str, user: User | None = None) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ServiceError(" ".join(exc.messages)) from exc


def _check_location(location: str) -> None:
    if location not in settings.BOXVAULT_LOCATIONS:
        raise ServiceError(f"Unknown data-center location {location!r}.")


def _check_grants(
    role: str, operations: Iterable[str], services: Iterable[str]
) -> tuple[list[str], list[str]]:
    if role not in Member.Role.values:
        raise ServiceError(f"Unknown role {role!r}.")
    ops = sorted(set(operations))
    unknown = [op for op in ops if op not in {str(o) for o in GRANTABLE}]
    if unknown:
        raise ServiceError(f"Unknown operation(s): {', '.join(unknown)}.")
    svc = sorted(set(services))
    unknown = [s for s in svc if s not in SERVICES]
    if unknown:
        raise ServiceError(f"Unknown service(s): {', '.join(unknown)}.")
    if role == Member.Role.ADMIN:
        return [], sorted(SERVICES)
    return ops, svc


def _ensure_new_email(email: str) -> None:
    if User.objects.filter(email__iexact=email).exists():
        raise ServiceError("A user with this e-mail address already exists.")


def _ensure_addable(access: Access, email: str) -> None:
    """An address already in use: say so plainly only when it is in the caller's own account.

    "already exists" for an address of another tenant told any administrator who else uses the service;
    an address is one user in one account, so all we say then is that it cannot be added here.
    """
    existing = User.objects.filter(email__iexact=email).first()
    if existing is None:
        # an address can also be another user's second (allauth) address: taken all the same
        if EmailAddress.objects.filter(email__iexact=email).exists():
            raise ServiceError(
                "This e-mail address cannot be added to this account; ask the person for another one."
            )
        return
    if Member.objects.filter(user=existing, account=access.account).exists():
        raise ServiceError(f"{email} is already a user of this account.")
    raise ServiceError("This e-mail address cannot be added to this account; ask the person for another one.")


def create_account(*, user: User, name: str, location: str, request: HttpRequest | None = None) -> Member:
    """A new tenant with `user` as its administrator and a trial."""
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ServiceError("The account name must be 1 to 120 characters.")
    _check_location(location)
    with transaction.atomic():
        now = clock.now()
        account = Account.objects.create(name=name, email=user.email, location=location, created_at=now)
        member = Member.objects.create(
            user=user, account=account, role=Member.Role.ADMIN, services=sorted(SERVICES), created_at=now
        )
        account_created.send(sender=Account, account=account, now=now)
        trial = getattr(account, "trial", None)
        until = f"; trial until {trial.ends_at:%Y-%m-%d}" if trial is not None else ""
        record(
            account,
            Activity.ACCOUNT_CREATED,
            f"Account {name!r} created in {account.location_label}{until}",
            actor=user,
            request=request,
        )
    return member


def create_account_with_admin(
    *,
    email: str,
    password: str,
    name: str = "",
    first_name: str = "",
    last_name: str = "",
    location: str = "",
) -> Member:
    """The operator's `boxvault account create`: an account whose administrator is already activated."""
    email = _clean_email(email)
    location = location or next(iter(settings.BOXVAULT_LOCATIONS))
    _check_location(location)
    with transaction.atomic():
        _ensure_new_email(email)
        user = User(email=email, first_name=first_name[:150], last_name=last_name[:150])
        _check_password(password, user)
        user.set_password(password)
        user.save()
        EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
        return create_account(user=user, name=name or email, location=location)


def update_account(access: Access, *, name: str, email: str, request: HttpRequest | None = None) -> Account:
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ServiceError("The account name must be 1 to 120 characters.")
    email = _clean_email(email)
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=access.account.pk)
        changes = []
        if account.name != name:
            changes.append(f"name from {account.name!r} to {name!r}")
        if account.email != email:
            changes.append(f"e-mail from {account.email} to {email}")
        if changes:
            account.name, account.email = name, email
            account.save(update_fields=["name", "email"])
            record(
                account,
                Activity.SETTINGS_CHANGED,
                "Changed account " + "; ".join(changes),
                actor=access.user,
                request=request,
            )
    return account


def _describe_grants(member: Member) -> str:
    if member.is_admin:
        return "Administrator"
    ops = ", ".join(LABELS[Operation(op)] for op in member.operations) or "no operations"
    services = ", ".join(SERVICES.get(s, s) for s in member.services) or "no services"
    return f"Custom ({ops}; services: {services})"


def add_member(
    access: Access,
    *,
    email: str,
    first_name: str = "",
    last_name: str = "",
    role: str = Member.Role.CUSTOM,
    operations: Iterable[str] = (),
    services: Iterable[str] = (),
    password: str | None = None,
    request: HttpRequest | None = None,
) -> Member:
    """Add a user with a password, or (no password) send them an invitation to choose one."""
    email = _clean_email(email)
    if len(first_name) > 150 or len(last_name) > 150:
        raise ServiceError("Names are limited to 150 characters.")
    ops, svc = _check_grants(role, operations, services)
    try:
        return _add_member(access, email, first_name, last_name, role, ops, svc, password, request)
    except IntegrityError:
        # the same address added by a concurrent request between the check and the insert
        raise ServiceError(f"{email} was just added by someone else; reload the list.") from None


def _add_member(
    access: Access,
    email: str,
    first_name: str,
    last_name: str,
    role: str,
    ops: list[str],
    svc: list[str],
    password: str | None,
    request: HttpRequest | None,
) -> Member:
    with transaction.atomic():
        _ensure_addable(access, email)
        user = User(email=email, first_name=first_name.strip(), last_name=last_name.strip())
        if password:
            _check_password(password, user)
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        # The administrator vouches for the address; an invitation link proves it anyway.
        EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
        member = Member.objects.create(
            user=user, account=access.account, role=role, operations=ops, services=svc, created_at=clock.now()
        )
        record(
            access.account,
            Activity.USER_ADDED,
            f"Added user {email} as {_describe_grants(member)}",
            actor=access.user,
            request=request,
        )
        if not password:
            link = invitation_link(user, request)
            transaction.on_commit(lambda: _send_invitation(access, email, link))
    return member


def _send_invitation(access: Access, email: str, link: str) -> None:
    inviter = access.user.get_full_name() or access.user.email
    send_mail(
        f"[boxvault] {inviter} invited you to {access.account.name}",
        f"Hello,\n\n{inviter} added you to the boxvault account {access.account.name!r}.\n"
        f"Choose your password here to sign in:\n\n{link}\n",
        None,
        [email],
    )


def update_member(
    access: Access,
    member: Member,
    *,
    first_name: str,
    last_name: str,
    role: str,
    operations: Iterable[str],
    services: Iterable[str],
    request: HttpRequest | None = None,
) -> Member:
    if member.account_id != access.account.pk:
        raise ServiceError("This user is not in your account.")
    if len(first_name) > 150 or len(last_name) > 150:
        raise ServiceError("Names are limited to 150 characters.")
    ops, svc = _check_grants(role, operations, services)
    with transaction.atomic():
        member = Member.objects.select_for_update().select_related("user").get(pk=member.pk)
        if member.is_admin and role != Member.Role.ADMIN and not _other_active_admins(access.account, member):
            raise ServiceError(
                "The account needs at least one administrator who can sign in: make another user an "
                "administrator first (an invited user counts once they have chosen their password)."
            )
        before = _describe_grants(member)
        member.user.first_name, member.user.last_name = first_name.strip(), last_name.strip()
        member.user.save(update_fields=["first_name", "last_name"])
        member.role, member.operations, member.services = role, ops, svc
        member.save(update_fields=["role", "operations", "services"])
        after = _describe_grants(member)
        if before != after:
            record(
                access.account,
                Activity.PERMISSIONS_CHANGED,
                f"Changed permissions of {member.user.email} from {before} to {after}",
                actor=access.user,
                request=request,
            )
    return member


def _other_active_admins(account: Account, member: Member) -> bool:
    """Whether an administrator other than `member` can sign in: active, and not an unaccepted invitation
    (an invited user's password stays unusable, "!"-prefixed, until they choose one)."""
    others = Member.objects.filter(account=account, role=Member.Role.ADMIN, user__is_active=True).exclude(
        pk=member.pk
    )
    return others.exclude(user__password__startswith=UNUSABLE_PASSWORD_PREFIX).exists()


def remove_member(access: Access, member: Member, *, request: HttpRequest | None = None) -> None:
    if member.account_id != access.account.pk:
        raise ServiceError("This user is not in your account.")
    if member.user_id == access.user.pk:
        raise ServiceError("You cannot remove yourself.")
    with transaction.atomic():
        email = member.user.email
        member.user.delete()  # the membership goes with it; audit rows keep the e-mail in performed_by
        record(
            access.account, Activity.USER_REMOVED, f"Removed user {email}", actor=access.user, request=request
        )


def request_removal(access: Access, *, request: HttpRequest | None = None) -> Account:
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=access.account.pk)
        if account.pending_removal:
            return account
        now = clock.now()
        account.removal_requested_at = now
        account.removal_due_at = now + timedelta(days=settings.BOXVAULT_REMOVAL_GRACE_DAYS)
        account.save(update_fields=["removal_requested_at", "removal_due_at"])
        due = account.removal_due_at
        record(
            account,
            Activity.ACCOUNT_REMOVAL,
            f"Account removal requested; all data will be deleted after {due:%Y-%m-%d %H:%M} UTC",
            actor=access.user,
            request=request,
        )
        to, name = account.email, account.name
        transaction.on_commit(
            lambda: send_mail(
                f"[boxvault] {name} will be removed",
                f"The account {name!r} is scheduled for removal on {due:%Y-%m-%d %H:%M} UTC.\n"
                "Sign in before then and choose Reactivate to keep it.\n",
                None,
                [to],
            )
        )
    return account


def reactivate(access: Access, *, request: HttpRequest | None = None) -> Account:
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=access.account.pk)
        if not account.pending_removal:
            return account
        if account.removal_due_at is not None and account.removal_due_at <= clock.now():
            raise ServiceError("The grace period is over; the account is being removed.")
        account.removal_requested_at = account.removal_due_at = None
        account.save(update_fields=["removal_requested_at", "removal_due_at"])
        record(
            account,
            Activity.ACCOUNT_REACTIVATED,
            "Account reactivated; removal canceled",
            actor=access.user,
            request=request,
        )
    return account


def purge_due_accounts(now: datetime | None = None) -> list[int]:
    """Delete every account whose grace period is over: all that belongs to it, nothing else."""
    now = now or clock.now()
    purged: list[int] = []
    for account_id in Account.objects.filter(removal_due_at__lte=now).values_list("pk", flat=True):
        with transaction.atomic():
            account = (
                Account.objects.select_for_update().filter(pk=account_id, removal_due_at__lte=now).first()
            )
            if account is None:  # reactivated or purged by another worker meanwhile
                continue
            _purge(account)
        purged.append(account_id)
    return purged


def _purge(account: Account) -> None:
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    account_purging.send(sender=Account, account=account)
    users = list(User.objects.filter(member__account=account))
    emails = [u.email for u in users]
    account.delete()  # cascades to members, audit rows, trial and every tenant-owned row of other apps
    User.objects.filter(pk__in=[u.pk for u in users]).delete()
    # Sign-in traces that were not tied to the account row but name its users.
    AuditEvent.objects.filter(account=None, performed_by__in=emails).delete()
    for model in (AccessAttempt, AccessLog, AccessFailureLog):
        model.objects.filter(username__in=emails).delete()


_SIGN_IN_TYPES = {"google": "Google", "microsoft": "Microsoft", "oidc": "OpenID Connect"}


def sign_in_type(provider: str) -> str:
    return "SAML" if provider.startswith("saml") else _SIGN_IN_TYPES.get(provider, provider)


def member_with_flags(members: Iterable[Member]) -> list[dict[str, Any]]:
    """Rows for the user list: member, how they sign in (e-mail, Google, Microsoft, SAML...) and whether 2FA
    is on (one query each for all)."""
    from allauth.mfa.models import Authenticator
    from allauth.socialaccount.models import SocialAccount

    members = list(members)
    ids = [m.user_id for m in members]
    with_mfa = set(
        Authenticator.objects.filter(user_id__in=ids, type=Authenticator.Type.TOTP).values_list(
            "user_id", flat=True
        )
    )
    kinds: dict[int, list[str]] = {}
    for user_id, provider in SocialAccount.objects.filter(user_id__in=ids).values_list("user_id", "provider"):
        kinds.setdefault(user_id, []).append(sign_in_type(provider))
    rows = []
    for m in members:
        types = (["E-mail"] if m.user.has_usable_password() else []) + sorted(set(kinds.get(m.user_id, [])))
        rows.append({"member": m, "mfa": m.user_id in with_mfa, "sign_in": ", ".join(types) or "Invitation"})
    return rows


def add_sso_member(
    account: Account,
    *,
    email: str,
    first_name: str = "",
    last_name: str = "",
    role: str = Member.Role.CUSTOM,
    operations: Iterable[str] = (),
    via: str = "SAML",
    request: HttpRequest | None = None,
) -> Member:
    """A member created on their first single sign-on (the account's "create members" setting): no
    password (they sign in through the IdP), e-mail vouched for by the IdP."""
    email = _clean_email(email)
    ops, svc = _check_grants(role, operations, sorted(SERVICES))
    with transaction.atomic():
        _ensure_new_email(email)
        user = User(email=email, first_name=first_name.strip()[:150], last_name=last_name.strip()[:150])
        user.set_unusable_password()
        user.save()
        EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
        member = Member.objects.create(
            user=user, account=account, role=role, operations=ops, services=svc, created_at=clock.now()
        )
        record(
            account,
            Activity.USER_ADDED,
            f"Added user {email} as {_describe_grants(member)} on first {via} sign-in",
            actor=user,
            request=request,
        )
    return member
