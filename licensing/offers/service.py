"""Licence offers for blocked outputs: made by whoever may consent for the asset that blocked
one, answered by the clearance's requester.

**Offering.** An output the output check blocked (licensing/output_checks.py) is recorded as a
use of each asset it showed uncovered (``ClearedAsset``, found in the output, denied). Whoever
may consent for such an asset (rights/authority.py: its owner, an organisation's owners and
managers, a verified estate; never a person's agent, since consent to a face stays with the
person) may offer its requester a licence for that output, at the asset's current policy's
price for it (licensing/quote.py's licence lines for the clearance's billed seconds), under
the active grant of that policy. Another holder's blocked uses are not found.

**Accepting.** The creator accepts while the offer has not expired and the consent it relies
on still stands (read under the same shared row lock a release takes, so a revocation that
committed first refuses it, 409). Their credits are checked as at clearance (402). For our
generator, once every asset that blocked the output has an accepted offer, the held clip is
released with its provenance in the acceptance's transaction (generator/held_outputs.py), and
paid like any release: one ``release:<generation id>`` ledger entry, shares held for
unverified holders. The offer's row and the job's are locked for update first, so two
acceptances (of one offer, or of two offers for one output) run one after the other: the
second finds the offer accepted and answers as the first did, posting nothing. For a
third-party generator, the clearance's next output check passes for the asset
(licensing/offers/repository.py) and, when it allows release, charges the accepted licence
with the clearance's own (licensing/third_party_release.py): the same split and ledger entry
as any third-party release, posted once.

Every step is in the asset's audit log, and each party is told of the other's.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, false, or_
from sqlmodel import Session, col, select

from audit.service import record_event
from clearhouse.accounts.models import Account
from clearhouse.db import read_session, write_session
from clearhouse.errors import NotFound
from clearhouse.settings import Settings
from generator.held_outputs import (
    SignedRelease,
    discard_held_output,
    held_for_offers,
    release_held_output,
    sign_held_output,
)
from generator.models import GenerationJob, JobState
from generator.signing_identity import SigningIdentity
from licensing.clearance import quote_line_document
from licensing.licences import PlannedLicence, clearance_licences, withdrawn_consents
from licensing.models import Clearance, ClearedAsset, FoundIn
from licensing.offers.errors import NotOfferable, OfferClosed, OfferUnusable
from licensing.offers.models import LicenceOffer, OfferStatus
from licensing.offers.reading import offer_public
from licensing.offers.schemas import LicenceOfferPublic
from licensing.quote import PUBLISHED_RATE_CARD, GenerationParameters, licence_lines
from notifications.kinds import NoticeKind
from notifications.service import notify
from payouts.credits import require_credits
from policies.decisions import AssetOutcome
from policies.document import ContentCategory, PolicyDocument
from policies.models import PolicyVersion
from policies.protections import ALWAYS_EXCLUDED_FROM_LIKENESSES, is_minors_likeness
from policies.service import current_policy
from rights.authority import Action, may
from rights.errors import ConsentIsTheHolders
from rights.models import Asset, AssetKind, ConsentGrant, GrantStatus
from rights.overlaps.cases import check_grantable

NOT_YOURS = "No output blocked by an asset you manage has this id."
NO_OFFER = "No licence offer with this id is yours."
_SIGNING_TRIES = 3


# -- offering ---------------------------------------------------------------------------


def offer_licence(
    session: Session, *, actor: Account, use_id: uuid.UUID, settings: Settings, now: datetime
) -> LicenceOfferPublic:
    """Offer the requester of the blocked use ``use_id`` a licence for its output (see the
    module). Raises NotFound, ConsentIsTheHolders (403), AssetNotActive, NotOfferable (409)
    and QuoteRefused (a policy priced in another currency than the clearance's quote)."""
    row = session.exec(
        select(ClearedAsset, Asset, Clearance)
        .join(Asset, Asset.id == ClearedAsset.asset_id)
        .join(Clearance, Clearance.id == ClearedAsset.clearance_id)
        .where(
            ClearedAsset.id == use_id,
            ClearedAsset.found_in == FoundIn.output,
            ClearedAsset.outcome == AssetOutcome.deny,
        )
        .with_for_update(of=ClearedAsset)  # one offer at a time for one blocked use
    ).first()
    if row is None or not may(
        session, account_id=actor.id, action=Action.view, owner_id=row[1].owner_id, asset=row[1]
    ):
        raise NotFound(NOT_YOURS)
    blocked, asset, clearance = row
    if not may(
        session, account_id=actor.id, action=Action.consent, owner_id=asset.owner_id, asset=asset
    ):
        raise ConsentIsTheHolders(
            "A licence offer consents to a use: only whoever may consent for this asset (its "
            "holder, an organisation's owners and managers, a verified estate) may make one; "
            "a person's agent never does for their likeness."
        )
    if asset.deleted_at is not None:
        raise NotOfferable("This asset was deleted: nothing can be licensed under it.")
    check_grantable(session, asset)
    _check_still_blocked(session, blocked=blocked, now=now, keep_hours=settings.held_output_hours)
    _check_no_live_offer(session, use_id=blocked.id, now=now)
    policy, grant = _consent_to_offer_under(session, asset=asset, now=now)
    document = PolicyDocument.from_stored(policy.document)
    _check_protections(session, asset=asset, clearance=clearance, now=now)
    currency = (clearance.quote or {}).get("currency", PUBLISHED_RATE_CARD.currency)
    seconds = GenerationParameters(
        duration_ms=clearance.parameters["duration_ms"], width=1, height=1, steps=1
    ).billed_seconds
    lines = licence_lines(
        asset_id=asset.id,
        kind=asset.kind,
        handle=asset.handle,
        price=document.price,
        seconds=seconds,
        currency=currency,
    )
    offer = LicenceOffer(
        cleared_asset_id=blocked.id,
        clearance_id=clearance.id,
        output_check_id=blocked.output_check_id,
        generation_id=_generation_id(session, clearance_id=clearance.id),
        asset_id=asset.id,
        owner_id=asset.owner_id,
        offered_by=actor.id,
        requester_id=clearance.requester_id,
        grant_id=grant.id,
        policy_version_id=policy.id,
        price_minor=sum(line.amount_minor for line in lines),
        currency=currency,
        lines=[quote_line_document(line) for line in lines],
        created_at=now,
        expires_at=now + timedelta(hours=settings.licence_offer_hours),
    )
    session.add(offer)
    session.flush()
    audit_offer(session, "licence_offer.made", offer=offer, actor_id=actor.id)
    notify(
        session,
        offer.requester_id,
        NoticeKind.offer_made,
        [offer.id, clearance.id],
        {**offer_facts(offer), "handle": asset.handle, "expires_at": offer.expires_at.isoformat()},
        now=now,
    )
    return offer_public(session, offer_id=offer.id, now=now)


def _check_still_blocked(
    session: Session, *, blocked: ClearedAsset, now: datetime, keep_hours: int
) -> None:
    """Our generator's job must still be blocked by this very check, and its clip still kept
    for offers (a third party's output is not ours to follow)."""
    job = session.exec(
        select(GenerationJob).where(GenerationJob.clearance_id == blocked.clearance_id)
    ).first()
    if job is not None and (
        job.state != JobState.blocked or job.output_check_id != blocked.output_check_id
    ):
        raise NotOfferable(
            f"This output is no longer blocked (its generation is {job.state.value}): there "
            "is nothing to license."
        )
    if job is not None and not held_for_offers(job, now=now, keep_hours=keep_hours):
        raise NotOfferable(
            f"This output was blocked more than {keep_hours} hours ago and is no longer kept: "
            "there is nothing to license."
        )


def _check_no_live_offer(session: Session, *, use_id: uuid.UUID, now: datetime) -> None:
    live = session.exec(
        select(LicenceOffer.id, LicenceOffer.status).where(
            LicenceOffer.cleared_asset_id == use_id,
            or_(
                LicenceOffer.status == OfferStatus.accepted,
                (LicenceOffer.status == OfferStatus.pending) & (LicenceOffer.expires_at > now),
            ),
        )
    ).first()
    if live is not None:
        offer_id, status = live
        raise NotOfferable(
            f"A licence for this output was offered already (offer {offer_id}, "
            f"{status.value}); a new one can be offered once it is declined or expires."
        )


def _consent_to_offer_under(
    session: Session, *, asset: Asset, now: datetime
) -> tuple[PolicyVersion, ConsentGrant]:
    """The asset's current policy and the active grant of it the licence will rely on, read
    under the release's shared lock (a revocation that commits first is seen)."""
    policy = current_policy(session, asset.id)
    grant = (
        session.exec(
            select(ConsentGrant)
            .where(
                ConsentGrant.asset_id == asset.id,
                ConsentGrant.policy_version_id == policy.id,
                ConsentGrant.status == GrantStatus.active,
            )
            .order_by(col(ConsentGrant.granted_at).desc())
            .with_for_update(read=True)
        ).first()
        if policy is not None
        else None
    )
    if policy is None or grant is None:
        raise NotOfferable(
            "An offer licenses the output under your current policy, at its price: consent to "
            f"it first (POST /v1/assets/{asset.id}/grants), then offer again."
        )
    if PolicyDocument.from_stored(policy.document).is_expired(now):
        raise NotOfferable("Your current policy has expired: set a new one, then offer again.")
    return policy, grant


def _check_protections(
    session: Session, *, asset: Asset, clearance: Clearance, now: datetime
) -> None:
    """What no offer can license, as no policy can: a minor's face for anyone else, a face in
    sexual content (policies/protections.py)."""
    if asset.kind != AssetKind.likeness:
        return
    owner = session.get(Account, asset.owner_id)
    if clearance.requester_id != owner.id and is_minors_likeness(
        asset.kind, owner_born=owner.date_of_birth, today=now.astimezone(UTC).date()
    ):
        raise NotOfferable("A minor's likeness is never licensed to anyone else.")
    shown = {
        ContentCategory(item["category"])
        for item in clearance.content_categories
        if item["declared"] or item["detected_by"]
    }
    if shown & set(ALWAYS_EXCLUDED_FROM_LIKENESSES):
        raise NotOfferable("A likeness is never licensed for sexual content.")


def _generation_id(session: Session, *, clearance_id: uuid.UUID) -> uuid.UUID | None:
    return session.exec(
        select(GenerationJob.id).where(GenerationJob.clearance_id == clearance_id)
    ).first()


# -- answering --------------------------------------------------------------------------


@dataclass(frozen=True)
class _ReleasePlan:
    """What releasing a blocked output would record, as the accepted offers stand."""

    job: GenerationJob
    licences: tuple[PlannedLicence, ...]
    total_minor: int
    currency: str
    complete: bool
    """Every asset that blocked the output has an accepted offer (this one counted)."""


class _SignedStale(Exception):
    """The clip was signed for other licences than the release now records: sign again."""


def accept_offer(
    engine: Engine,
    *,
    requester: Account,
    offer_id: uuid.UUID,
    settings: Settings,
    signing_identity: Callable[[], SigningIdentity],
    now: datetime,
) -> LicenceOfferPublic:
    """Accept the requester's offer (see the module). Raises NotFound, OfferClosed,
    OfferUnusable, AssetNotActive (409) and InsufficientCredits (402)."""
    for _ in range(_SIGNING_TRIES):
        with read_session(engine) as session:
            offer = _requesters_offer(session, requester_id=requester.id, offer_id=offer_id)
            if offer.status != OfferStatus.accepted:
                _check_open(offer, now=now)
            plan = (
                _release_plan(session, offer=offer, accepting=True) if offer.generation_id else None
            )
        signed = None
        if plan is not None and plan.complete and offer.status == OfferStatus.pending:
            signed = sign_held_output(
                settings, identity=signing_identity(), job=plan.job, licences=plan.licences
            )
            if signed is None:
                raise OfferUnusable("The blocked output is no longer held: ask for it again.")
        released = False
        try:
            with write_session(engine) as session:
                released = _accept(
                    session,
                    requester=requester,
                    offer_id=offer_id,
                    signed=signed,
                    signed_for=plan.licences if plan is not None else (),
                    settings=settings,
                    now=now,
                )
                answer = offer_public(session, offer_id=offer_id, now=now)
        except _SignedStale:
            continue
        finally:
            if signed is not None and not released:
                signed.path.unlink(missing_ok=True)
        if released:
            discard_held_output(settings.generations_dir, job_id=offer.generation_id)
        return answer
    raise OfferUnusable("Other offers for this output were answered meanwhile: try again.")


def _accept(
    session: Session,
    *,
    requester: Account,
    offer_id: uuid.UUID,
    signed: SignedRelease | None,
    signed_for: tuple[PlannedLicence, ...],
    settings: Settings,
    now: datetime,
) -> bool:
    """The acceptance's write transaction; whether it released the output."""
    offer = _requesters_offer(session, requester_id=requester.id, offer_id=offer_id, lock=True)
    job = (
        session.exec(
            select(GenerationJob).where(GenerationJob.id == offer.generation_id).with_for_update()
        ).one()
        if offer.generation_id is not None
        else None
    )
    if offer.status == OfferStatus.accepted:
        return False  # accepted already: answered as then, nothing posted again
    _check_open(offer, now=now)
    asset = session.get(Asset, offer.asset_id)
    if withdrawn_consents(session, grant_ids=[offer.grant_id], lock=True):
        raise OfferUnusable(
            f"The consent this offer relied on for @{asset.handle} was withdrawn after it was "
            "made: it can no longer be accepted, and the output stays blocked."
        )
    if asset.deleted_at is not None:
        raise OfferUnusable("The asset was deleted since the offer was made.")
    check_grantable(session, asset)
    if job is not None and job.state != JobState.blocked:
        raise OfferUnusable(
            f"The output is no longer blocked: its generation is {job.state.value}."
        )
    plan = _release_plan(session, offer=offer, accepting=True) if job is not None else None
    if plan is not None and plan.complete:
        withdrawn = withdrawn_consents(
            session, grant_ids=[licence.grant_id for licence in plan.licences], lock=True
        )
        if withdrawn:
            raise OfferUnusable(
                f"Consent for {', '.join('@' + handle for handle in withdrawn)} was withdrawn: "
                "the output can no longer be released."
            )
    require_credits(
        session,
        creator_id=requester.id,
        amount_minor=plan.total_minor if plan is not None else offer.price_minor,
        currency=offer.currency,
        settings=settings,
        now=now,
    )
    offer.status, offer.decided_at = OfferStatus.accepted, now
    session.add(offer)
    audit_offer(session, "licence_offer.accepted", offer=offer, actor_id=requester.id)
    notify(
        session,
        offer.owner_id,
        NoticeKind.offer_accepted,
        [offer.asset_id, offer.id],
        {**offer_facts(offer), "handle": asset.handle},
        now=now,
    )
    if plan is None or not plan.complete:
        return False
    if signed is None or tuple(signed_for) != plan.licences:
        raise _SignedStale
    return release_held_output(
        session,
        job=job,
        licences=plan.licences,
        total_minor=plan.total_minor,
        currency=plan.currency,
        signed=signed,
        now=now,
    )


def decline_offer(
    session: Session, *, requester: Account, offer_id: uuid.UUID, now: datetime
) -> LicenceOfferPublic:
    """Decline the requester's offer: the output stays blocked; the owner is told. Declining
    again answers the same; an accepted or expired offer is closed (409)."""
    offer = _requesters_offer(session, requester_id=requester.id, offer_id=offer_id, lock=True)
    if offer.status == OfferStatus.accepted:
        raise OfferClosed("You accepted this offer already: the licence stands.")
    if offer.status == OfferStatus.pending:
        _check_open(offer, now=now)
        offer.status, offer.decided_at = OfferStatus.declined, now
        session.add(offer)
        audit_offer(session, "licence_offer.declined", offer=offer, actor_id=requester.id)
        handle = session.get(Asset, offer.asset_id).handle
        notify(
            session,
            offer.owner_id,
            NoticeKind.offer_declined,
            [offer.asset_id, offer.id],
            {**offer_facts(offer), "handle": handle},
            now=now,
        )
        session.flush()
    return offer_public(session, offer_id=offer.id, now=now)


def _check_open(offer: LicenceOffer, *, now: datetime) -> None:
    if offer.status == OfferStatus.declined:
        raise OfferClosed("You declined this offer; the output stays blocked.")
    # Lapsed by the sweep of a process whose clock ran ahead of this one's: closed as well.
    if offer.expires_at <= now or offer.lapsed_at is not None:
        raise OfferClosed(
            "This offer expired before it was accepted; the output stays blocked. The owner may "
            "offer again."
        )


def _release_plan(
    session: Session, *, offer: LicenceOffer, accepting: bool = False
) -> _ReleasePlan:
    """The release of the offer's blocked output as its accepted offers stand (with this one
    when ``accepting``, or when it is accepted already)."""
    job = session.get(GenerationJob, offer.generation_id)
    clearance = session.get(Clearance, job.clearance_id)
    currency = clearance.quote["currency"]
    blocking = set(
        session.exec(
            select(ClearedAsset.asset_id).where(
                ClearedAsset.output_check_id == job.output_check_id,
                ClearedAsset.found_in == FoundIn.output,
            )
        ).all()
    )
    accepted = session.exec(
        select(LicenceOffer, PolicyVersion.version, Asset.handle)
        .join(PolicyVersion, PolicyVersion.id == LicenceOffer.policy_version_id)
        .join(Asset, Asset.id == LicenceOffer.asset_id)
        .where(
            LicenceOffer.output_check_id == job.output_check_id,
            or_(
                LicenceOffer.status == OfferStatus.accepted,
                LicenceOffer.id == offer.id if accepting else false(),
            ),
        )
        .order_by(Asset.handle, LicenceOffer.asset_id)
    ).all()
    offered = tuple(
        PlannedLicence.offered(row, version=version, handle=handle)
        for row, version, handle in accepted
    )
    licences = (
        *clearance_licences(session, clearance_id=clearance.id, currency=currency),
        *offered,
    )
    return _ReleasePlan(
        job=job,
        licences=licences,
        total_minor=clearance.quote["total_minor"]
        + sum(licence.price_minor for licence in offered),
        currency=currency,
        complete=blocking <= {licence.asset_id for licence in offered},
    )


# -- reading ----------------------------------------------------------------------------


def _requesters_offer(
    session: Session, *, requester_id: uuid.UUID, offer_id: uuid.UUID, lock: bool = False
) -> LicenceOffer:
    query = select(LicenceOffer).where(
        LicenceOffer.id == offer_id, LicenceOffer.requester_id == requester_id
    )
    offer = session.exec(query.with_for_update() if lock else query).first()
    if offer is None:
        raise NotFound(NO_OFFER)
    return offer


def offer_facts(offer: LicenceOffer) -> dict:
    return {
        "offer_id": str(offer.id),
        "asset_id": str(offer.asset_id),
        "clearance_id": str(offer.clearance_id),
        "generation_id": str(offer.generation_id) if offer.generation_id else None,
        "price_minor": offer.price_minor,
        "currency": offer.currency,
    }


def audit_offer(
    session: Session, action: str, *, offer: LicenceOffer, actor_id: uuid.UUID | None
) -> None:
    record_event(
        session,
        action=action,
        actor_id=actor_id,
        asset_id=offer.asset_id,
        details={**offer_facts(offer), "requester_id": str(offer.requester_id)},
    )
