"""The policy editor of an asset: every rule in plain words, a preview of what the policy as
typed decides for a sample request, and saving it as the policy in force.

Saving does what a holder means by "this is my policy now", through the API's own service
functions: a new policy version (``POST /v1/assets/{id}/policies``), the consent to it when
it admits anyone (``POST /v1/assets/{id}/grants``), and, unless the holder keeps them, the
withdrawal of the consents given under earlier versions (otherwise an older, looser version
would go on allowing what the new one refuses). The preview runs the pure evaluator on the
typed document, its sample prompt read by a clearance's own text check; nothing is stored.
"""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from pydantic import ValidationError
from sqlmodel import Session

from clearhouse.accounts.dependencies import require_verified
from clearhouse.accounts.models import Account
from clearhouse.db import new_id, utcnow
from clearhouse.deps import KeysDep, ReadSessionDep, SessionDep, SettingsDep
from clearhouse.errors import ClearhouseError
from clearhouse.portal.pages import NOTICES, PageRoute, render, see_other
from clearhouse.portal.policy_words import CONTENT_HINTS, USE_HINTS, USE_LABELS, describe
from clearhouse.portal.sessions import PAGE_NEW_LINK, CsrfChecked, PortalHolder
from licensing.clearance import evaluated_request
from licensing.touches import scan_prompt
from policies import service as policies
from policies.decisions import AssetDecision, Decision
from policies.document import (
    NOBODY,
    Audience,
    ContentCategory,
    PolicyDocument,
    Price,
    Use,
)
from policies.evaluator import evaluate
from policies.facts import (
    AssetUsage,
    GenerationRequest,
    GrantSnapshot,
    MatchedAsset,
    PolicySnapshot,
    Requester,
)
from policies.restrictions import MAX_RESTRICTION_LENGTH, MAX_RESTRICTIONS
from rights import repository, service
from rights.authority import Action, may
from rights.errors import NotAllowed
from rights.matching.runtime import MatchingDep, MatchingRuntime
from rights.models import Asset, GrantStatus

router = APIRouter(route_class=PageRoute, include_in_schema=False)

NOTICES.update(
    {
        "policy-saved": "Your policy is saved and in force from now on.",
    }
)

#: Where a new asset's editor starts: open to anyone for personal use, for a small fee, out
#: of the content most owners refuse. Nothing is in force until the holder saves it.
SUGGESTED = PolicyDocument(
    audience=Audience.anyone,
    allowed_uses=[Use.personal],
    excluded_content=[
        ContentCategory.sexual,
        ContentCategory.hate,
        ContentCategory.harassment,
        ContentCategory.self_harm,
        ContentCategory.illegal_activity,
    ],
    price=Price(currency="USD", per_use_minor=100, per_second_minor=0),
)

Short = Annotated[str, Form(max_length=200)]
Choices = Annotated[list[str], Form(max_length=20)]


@dataclass
class PolicyForm:
    """The editor's fields as typed, so a form with a problem comes back as it was sent."""

    audience: str = "nobody"
    listed_accounts: str = ""
    allowed_uses: list[str] = field(default_factory=list)
    excluded_content: list[str] = field(default_factory=list)
    restrictions: str = ""  # one per line
    minors_may_use: bool = False
    approval_required: bool = False
    currency: str = "USD"
    per_use: str = "0.00"
    per_second: str = "0.00"
    daily_use_limit: str = ""
    total_use_limit: str = ""
    expires_on: str = ""
    withdraw_earlier: bool = True


@dataclass
class SampleRequest:
    """A made-up request to try the policy on."""

    use: str = "personal"
    prompt: str = ""
    content: list[str] = field(default_factory=list)
    minor: bool = False
    listed: bool = False
    seconds: str = "5"


def _major(amount_minor: int) -> str:
    """Minor units as typed in the form: 120 is "1.20"."""
    return f"{Decimal(amount_minor) / 100:.2f}"


def form_of(document: PolicyDocument) -> PolicyForm:
    return PolicyForm(
        audience=document.audience.value,
        listed_accounts="\n".join(str(account) for account in document.listed_accounts),
        allowed_uses=[use.value for use in document.allowed_uses],
        excluded_content=[category.value for category in document.excluded_content],
        restrictions="\n".join(document.restrictions),
        minors_may_use=document.minors_may_use,
        approval_required=document.approval_required,
        currency=document.price.currency,
        per_use=_major(document.price.per_use_minor),
        per_second=_major(document.price.per_second_minor),
        daily_use_limit=str(document.daily_use_limit or ""),
        total_use_limit=str(document.total_use_limit or ""),
        expires_on=document.expires_at.date().isoformat() if document.expires_at else "",
    )


def _policy_form(
    audience: Short = "nobody",
    listed_accounts: Annotated[str, Form(max_length=40_000)] = "",
    allowed_uses: Choices = (),
    excluded_content: Choices = (),
    restrictions: Annotated[
        str, Form(max_length=(MAX_RESTRICTION_LENGTH + 2) * MAX_RESTRICTIONS)
    ] = "",
    minors_may_use: Short = "",
    approval_required: Short = "",
    currency: Short = "USD",
    per_use: Short = "0",
    per_second: Short = "0",
    daily_use_limit: Short = "",
    total_use_limit: Short = "",
    expires_on: Short = "",
    withdraw_earlier: Short = "",
) -> PolicyForm:
    return PolicyForm(
        audience=audience,
        listed_accounts=listed_accounts,
        allowed_uses=list(allowed_uses),
        excluded_content=list(excluded_content),
        restrictions=restrictions.strip(),
        minors_may_use=bool(minors_may_use),
        approval_required=bool(approval_required),
        currency=currency.strip().upper(),
        per_use=per_use.strip(),
        per_second=per_second.strip(),
        daily_use_limit=daily_use_limit.strip(),
        total_use_limit=total_use_limit.strip(),
        expires_on=expires_on.strip(),
        withdraw_earlier=bool(withdraw_earlier),
    )


def _sample_request(
    sample_use: Short = "personal",
    sample_prompt: Annotated[str, Form(max_length=2000)] = "",
    sample_content: Choices = (),
    sample_minor: Short = "",
    sample_listed: Short = "",
    sample_seconds: Short = "5",
) -> SampleRequest:
    return SampleRequest(
        use=sample_use,
        prompt=sample_prompt.strip(),
        content=list(sample_content),
        minor=bool(sample_minor),
        listed=bool(sample_listed),
        seconds=sample_seconds.strip(),
    )


TypedPolicy = Annotated[PolicyForm, Depends(_policy_form)]
TypedSample = Annotated[SampleRequest, Depends(_sample_request)]

# Where the document's own complaints belong in the form.
_FIELD_OF = {
    ("price", "per_use_minor"): "per_use",
    ("price", "per_second_minor"): "per_second",
    ("price", "currency"): "currency",
}


def _amount(text: str, name: str, errors: dict[str, str]) -> int:
    """An amount typed as "1.20" in minor units (120); a problem is noted in ``errors``."""
    try:
        amount = Decimal(text or "0")
    except InvalidOperation:
        errors[name] = "Write an amount like 1.20, without the currency."
        return 0
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        errors[name] = "Write an amount of 0 or more, with at most two decimals, like 1.20."
        return 0
    return int(amount * 100)


def _count(text: str, name: str, errors: dict[str, str]) -> int | None:
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        errors[name] = "Write a whole number of at least 1, or leave it empty for no limit."
        return None
    return int(text)


def parse_document(form: PolicyForm) -> tuple[PolicyDocument | None, dict[str, str]]:
    """The policy the form describes, or the problem with each field."""
    errors: dict[str, str] = {}
    listed = []
    for line in form.listed_accounts.split():
        try:
            listed.append(uuid.UUID(line))
        except ValueError:
            errors["listed_accounts"] = f"“{line[:40]}” is not an account id."
    expires_at = None
    if form.expires_on:
        try:
            expires_at = datetime.combine(date.fromisoformat(form.expires_on), time(), UTC)
        except ValueError:
            errors["expires_on"] = "Give a date such as 2027-12-31, or leave it empty."
    raw = {
        "audience": form.audience,
        "listed_accounts": listed if form.audience == Audience.listed else [],
        "allowed_uses": form.allowed_uses,
        "excluded_content": form.excluded_content,
        "restrictions": [line for line in form.restrictions.splitlines() if line.strip()],
        "minors_may_use": form.minors_may_use,
        "approval_required": form.approval_required,
        "price": {
            "currency": form.currency,
            "per_use_minor": _amount(form.per_use, "per_use", errors),
            "per_second_minor": _amount(form.per_second, "per_second", errors),
        },
        "daily_use_limit": _count(form.daily_use_limit, "daily_use_limit", errors),
        "total_use_limit": _count(form.total_use_limit, "total_use_limit", errors),
        "expires_at": expires_at,
    }
    try:
        document = PolicyDocument.model_validate(raw)
    except ValidationError as invalid:
        for problem in invalid.errors():
            location = tuple(str(part) for part in problem["loc"])
            name = _FIELD_OF.get(location[:2], location[0] if location else "form")
            message = problem["msg"].removeprefix("Value error, ")
            errors.setdefault(name, message[0].upper() + message[1:])
        return None, errors
    return (None, errors) if errors else (document, {})


@dataclass(frozen=True)
class Preview:
    """What the evaluator decided for the sample, and what it would cost."""

    decision: Decision
    asset: AssetDecision
    seconds: int
    total_minor: int | None


def preview(
    session: Session,
    document: PolicyDocument,
    *,
    asset: Asset,
    owner: Account,
    sample: SampleRequest,
    seconds: int,
    version: int,
    matching: MatchingRuntime,
    now: datetime,
    minor_daily_generation_limit: int,
) -> Preview:
    """Evaluate ``sample`` against ``document`` as if it were in force with an active grant:
    the same pure evaluator a clearance runs, on the facts a clearance would read, its prompt
    read by the same text check, with no use of the asset counted yet. Only this asset is
    judged, whatever else the prompt names. ``version``: the number it would be saved as."""
    policy = PolicySnapshot(id=new_id(), asset_id=asset.id, version=version, document=document)
    grant = GrantSnapshot(
        id=new_id(),
        asset_id=asset.id,
        policy_version_id=policy.id,
        status=GrantStatus.active,
        revoked_at=None,
        policy=policy,
    )
    matched = MatchedAsset(
        id=asset.id,
        kind=asset.kind,
        handle=asset.handle,
        owner_id=asset.owner_id,
        owner_date_of_birth=owner.date_of_birth,
        grants=(grant,),
        usage=AssetUsage(today=0, total=0),
    )
    listed = document.listed_accounts
    years = 15 if sample.minor else 30
    requester = Requester(
        account_id=listed[0] if sample.listed and listed else new_id(),
        date_of_birth=now.date() - timedelta(days=365 * years + 10),
        generations_today=0,
    )
    declared = frozenset(ContentCategory(value) for value in sample.content)
    if sample.prompt:
        # Read as a clearance reads it: the content it shows beside the names it touches (a
        # short prompt's few words alone), the protected entries it names, the restrictions.
        request = evaluated_request(
            requester=requester,
            digest="portal-preview",
            declared_use=Use(sample.use),
            declared_content=declared,
            scanned=scan_prompt(session, prompt=sample.prompt, matching=matching),
            assets=[matched],
        )
    else:
        request = GenerationRequest(
            requester=requester,
            digest="portal-preview",
            declared_use=Use(sample.use),
            content_categories=declared,
        )
    decision = evaluate(
        request,
        assets=[matched],
        now=now,
        minor_daily_generation_limit=minor_daily_generation_limit,
    )
    (decided,) = decision.assets
    price = decided.price
    total = None if price is None else price.per_use_minor + price.per_second_minor * seconds
    return Preview(decision=decision, asset=decided, seconds=seconds, total_minor=total)


def _sample_problems(sample: SampleRequest) -> tuple[int, dict[str, str]]:
    errors = {}
    if sample.use not in {use.value for use in Use}:
        errors["sample_use"] = "Choose what the sample request is for."
    if any(value not in {c.value for c in ContentCategory} for value in sample.content):
        errors["sample_content"] = "Choose among the kinds of content listed."
    seconds = int(sample.seconds) if sample.seconds.isdigit() else 0
    if not 1 <= seconds <= 600:
        errors["sample_seconds"] = "Give a length of 1 to 600 seconds."
    return seconds, errors


def _editor(
    request: Request,
    account: Account,
    session: Session,
    asset: Asset,
    *,
    form: PolicyForm,
    sample: SampleRequest | None = None,
    errors: dict[str, str] | None = None,
    result: Preview | None = None,
    typed: PolicyDocument | None = None,
    status_code: int = 200,
):
    current = policies.current_policy(session, asset.id)
    grants, _ = repository.grants_with_policies(
        session, asset_id=asset.id, status=GrantStatus.active
    )
    return render(
        request,
        "assets/policy.html",
        account=account,
        title=f"Policy of {asset.name}",
        status_code=status_code,
        asset=asset,
        form=form,
        sample=sample or SampleRequest(),
        errors=errors or {},
        result=result,
        typed_sentences=describe(typed, kind=asset.kind) if typed else None,
        current_version=current.version if current else 0,
        current_sentences=describe(
            PolicyDocument.from_stored(current.document) if current else NOBODY, kind=asset.kind
        ),
        active_grants=[(grant, policy.version) for grant, policy in grants],
        uses=[(use.value, USE_LABELS[use], USE_HINTS[use]) for use in Use],
        contents=[
            (category.value, category.label.capitalize(), CONTENT_HINTS[category])
            for category in ContentCategory
        ],
        is_likeness=asset.kind.value == "likeness",
    )


@router.get("/assets/{asset_id}/policy")
def policy_editor(
    request: Request, asset_id: uuid.UUID, account: PortalHolder, session: ReadSessionDep
):
    asset = repository.get_owned_asset(
        session, account_id=account.id, asset_id=asset_id, action=Action.manage
    )
    current = policies.current_policy(session, asset.id)
    document = PolicyDocument.from_stored(current.document) if current else SUGGESTED
    return _editor(request, account, session, asset, form=form_of(document))


@router.post("/assets/{asset_id}/policy/preview", dependencies=[CsrfChecked])
def preview_policy(
    request: Request,
    asset_id: uuid.UUID,
    account: PortalHolder,
    session: ReadSessionDep,
    settings: SettingsDep,
    matching: MatchingDep,
    form: TypedPolicy,
    sample: TypedSample,
):
    asset = repository.get_owned_asset(
        session, account_id=account.id, asset_id=asset_id, action=Action.manage
    )
    document, errors = parse_document(form)
    seconds, sample_errors = _sample_problems(sample)
    errors.update(sample_errors)
    if document is None or errors:
        return _editor(
            request,
            account,
            session,
            asset,
            form=form,
            sample=sample,
            errors=errors,
            status_code=400,
        )
    current = policies.current_policy(session, asset.id)
    result = preview(
        session,
        document,
        asset=asset,
        owner=account,
        sample=sample,
        seconds=seconds,
        version=(current.version if current else 0) + 1,
        matching=matching,
        now=utcnow(),
        minor_daily_generation_limit=settings.minor_daily_generation_limit,
    )
    return _editor(
        request, account, session, asset, form=form, sample=sample, result=result, typed=document
    )


@router.post("/assets/{asset_id}/policy", dependencies=[CsrfChecked])
def save_policy(
    request: Request,
    asset_id: uuid.UUID,
    account: PortalHolder,
    session: SessionDep,
    settings: SettingsDep,
    keys: KeysDep,
    matching: MatchingDep,
    form: TypedPolicy,
):
    asset = repository.get_owned_asset(
        session, account_id=account.id, asset_id=asset_id, action=Action.manage
    )
    document, errors = parse_document(form)
    if document is None:
        return _editor(request, account, session, asset, form=form, errors=errors, status_code=400)
    try:
        if document.admits_anyone():
            # the API's consent routes ask the same
            require_verified(account, new_link=PAGE_NEW_LINK)
        matching.restrictions.prepare(document.restrictions)  # for the clearances to come
        version = policies.set_policy(session, asset=asset, actor=account, document=document)
        if form.withdraw_earlier or not document.admits_anyone():
            if not may(
                session,
                account_id=account.id,
                action=Action.withdraw,
                owner_id=asset.owner_id,
                asset=asset,
            ):
                raise NotAllowed(
                    "Withdrawing consent is the holder's: save without withdrawing the "
                    "earlier versions, or ask the holder."
                )
            service.revoke_asset_grants(
                session,
                actor=account,
                asset=asset,
                reason=f"replaced by policy version {version.version}",
                settings=settings,
                keys=keys,
            )
        if document.admits_anyone():
            service.create_grant(
                session,
                actor=account,
                asset=asset,
                policy_version=version.version,
                settings=settings,
                keys=keys,
            )
    except ClearhouseError as refused:
        session.rollback()  # nothing of it is kept
        return _editor(
            request,
            account,
            session,
            asset,
            form=form,
            errors={"form": refused.detail},
            status_code=refused.status_code,
        )
    return see_other(f"/assets/{asset.id}", notice="policy-saved")
