"""Consent receipts: a signed record of each grant and each revocation.

The claims follow the Kantara Initiative Consent Receipt Specification 1.1 where its fields
apply (receipt id, timestamp, collection method, principal, controller, policy, services
and purposes, sensitive categories) and the ISO/IEC TS 27560 consent record's event and
state (given, withdrawn). The receipt is an ES256 JWS; anyone can check it against
``/.well-known/jwks.json`` or with ``POST /v1/receipts/verify``.
"""

import uuid
from datetime import datetime
from typing import Any

from clearhouse import signing
from clearhouse.accounts.models import Account
from clearhouse.keys import KeyRing
from clearhouse.settings import Settings
from policies.document import PolicyDocument
from policies.models import PolicyVersion
from rights.models import Asset, AssetKind, ConsentGrant, ConsentReceipt, ReceiptEvent

SPECIFICATION = "KI-CR-v1.1.0"

_PII_CATEGORY = {
    AssetKind.likeness: "biometric: facial likeness",
    AssetKind.character: "intellectual property: character",
    AssetKind.style: "intellectual property: artistic style",
}


def issue_receipt(
    *,
    event: ReceiptEvent,
    grant: ConsentGrant,
    asset: Asset,
    owner: Account,
    policy: PolicyVersion,
    at: datetime,
    settings: Settings,
    keys: KeyRing,
    collection_method: str | None = None,
) -> ConsentReceipt:
    """Sign a receipt for ``event`` on ``grant``; the caller adds it to the session.

    ``collection_method``: who made the change when it was not the holder's own request
    (staff disabling the account, an organisation's manager, an agent, an estate); the
    receipt says so."""
    receipt = ConsentReceipt(grant_id=grant.id, owner_id=owner.id, event=event, issued_at=at)
    claims = _claims(
        receipt=receipt, grant=grant, asset=asset, owner=owner, policy=policy, settings=settings
    )
    if collection_method is not None:
        claims["collectionMethod"] = collection_method
    receipt.token = signing.sign(claims, key=keys.receipts, typ=signing.RECEIPT_TYPE)
    return receipt


def _claims(
    *,
    receipt: ConsentReceipt,
    grant: ConsentGrant,
    asset: Asset,
    owner: Account,
    policy: PolicyVersion,
    settings: Settings,
) -> dict[str, Any]:
    document = PolicyDocument.from_stored(policy.document)
    withdrawn = receipt.event == ReceiptEvent.consent_withdrawn
    termination = "on revocation by the principal"
    if document.expires_at:
        termination += f", or at {document.expires_at.isoformat()}"
    timestamp = int(receipt.issued_at.timestamp())
    return {
        # JWT registered claims
        "iss": settings.issuer,
        "sub": str(owner.id),
        "iat": timestamp,
        "jti": str(receipt.id),
        # Kantara Consent Receipt 1.1
        "version": SPECIFICATION,
        "consentReceiptID": str(receipt.id),
        "consentTimestamp": timestamp,
        "collectionMethod": "Clearhouse API, authenticated holder request",
        "jurisdiction": settings.jurisdiction,
        "language": "en",
        "piiPrincipalId": str(owner.id),
        "piiControllers": [
            {"piiController": settings.controller_name, "contact": settings.controller_contact}
        ],
        "policyUrl": settings.policy_url,
        "services": [
            {
                "service": "generative video licensing",
                "purposes": [
                    {
                        "purpose": f"use of {asset.kind.value} @{asset.handle} for {use.value}",
                        "purposeCategory": [use.value],
                        "consentType": "EXPLICIT",
                        "piiCategory": [_PII_CATEGORY[asset.kind]],
                        "primaryPurpose": True,
                        "termination": termination,
                        "thirdPartyDisclosure": document.admits_anyone(),
                        "thirdPartyName": document.audience.value,
                    }
                    for use in document.allowed_uses
                ],
            }
        ],
        "sensitive": asset.kind == AssetKind.likeness,
        "spiCat": ["biometric"] if asset.kind == AssetKind.likeness else [],
        # ISO/IEC TS 27560 consent record: the event and the resulting state
        "event": receipt.event.value,
        "state": "withdrawn" if withdrawn else "given",
        # What the consent is about, precisely
        "asset": {"id": str(asset.id), "handle": asset.handle, "kind": asset.kind.value},
        "grant": {"id": str(grant.id), "policyVersion": policy.version},
        "excludedContent": [category.value for category in document.excluded_content],
        # Where anyone can ask whether this consent still stands (withdrawn, and when).
        "statusUrl": status_url(grant.id, settings=settings),
    }


def status_url(grant_id: uuid.UUID, *, settings: Settings) -> str:
    return f"{settings.public_url.rstrip('/')}/v1/grants/{grant_id}/status"


def verify_receipt(token: str, *, settings: Settings, keys: KeyRing) -> dict[str, Any]:
    """The receipt's claims if its signature and type check out; else ``TokenRejected``."""
    return signing.verify(
        token,
        keys=keys.receipt_keys,
        typ=signing.RECEIPT_TYPE,
        issuer=settings.issuer,
        required=("iss", "iat", "jti", "sub"),
    )
