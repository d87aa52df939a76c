"""Tables of the rights registry: assets, consent grants and consent receipts."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, text
from sqlmodel import Column, Field, SQLModel, Text

from clearhouse.db import JSONDocument, UTCDateTime, enum_column, new_id, utcnow


class AssetKind(StrEnum):
    likeness = "likeness"
    character = "character"
    style = "style"


class AssetStanding(StrEnum):
    """Whether an asset may be licensed, as far as overlap with others is concerned."""

    active = "active"
    in_review = "in_review"  # it overlaps another's asset or a protected entry: staff decide
    inactive = "inactive"  # staff decided that what it names belongs to another
    disputed = "disputed"  # staff upheld a dispute: still matched, its matches deny (disputes/)


#: The standings whose asset the clearance matches: a disputed asset is still found, so that
#: its matches deny rather than let a request through unnoticed.
MATCHED_STANDINGS = (AssetStanding.active, AssetStanding.disputed)


class Asset(SQLModel, table=True):
    """Something a rights holder owns and may license: a face, a character or a style."""

    __table_args__ = (
        # A handle is unique among live assets; a deleted asset frees its handle.
        Index(
            "uq_asset_live_handle",
            "handle",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    owner_id: uuid.UUID = Field(foreign_key="account.id", index=True, ondelete="RESTRICT")
    kind: AssetKind = Field(sa_column=enum_column(AssetKind))
    handle: str = Field(max_length=32, description="Lower-case, without the '@'.")
    name: str = Field(max_length=200)
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSONDocument, nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    keywords: list[str] = Field(
        default_factory=list, sa_column=Column(JSONDocument, nullable=False)
    )
    example_prompts: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSONDocument, nullable=False),
        description="Prompts, written by the owner, that should find this asset.",
    )
    standing: AssetStanding = Field(
        default=AssetStanding.active,
        sa_column=enum_column(AssetStanding, server_default=AssetStanding.active.value),
        description="Only an active asset is granted and licensed (rights/overlaps/); a disputed "
        "one is matched and denied (rights/disputes/).",
    )
    catalogue_generation: int = Field(
        default=0,
        sa_column=Column(BigInteger, nullable=False, index=True, server_default="0"),
        description="The text catalogue's count when its names or texts last changed "
        "(rights/matching/store.py).",
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    deleted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    deceased_reported_at: datetime | None = Field(
        default=None,
        sa_column=Column(UTCDateTime),
        description="A likeness reported as a deceased person's: from then nobody may use it "
        "unless a verified estate (``estate_account_id``) sets its policy.",
    )
    estate_account_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="account.id",
        ondelete="RESTRICT",
        description="The estate whose authority a moderator verified; it acts as the owner.",
    )


class HandleReservation(SQLModel, table=True):
    """A handle's look-alike skeleton (clearhouse/names.fold), held by one asset.

    The primary key is the skeleton, so two look-alike handles can never both be held: of two
    registrations at the same moment, the database lets one insert win. A live asset holds its
    handle's skeleton for good; a deleted asset, or one whose handle changed, keeps the old one
    until ``reserved_until``, so a new asset cannot take a handle its old receipts name.
    """

    __tablename__ = "handle_reservation"

    skeleton: str = Field(primary_key=True, max_length=64)
    asset_id: uuid.UUID = Field(foreign_key="asset.id", index=True, ondelete="CASCADE")
    reserved_until: datetime | None = Field(
        default=None,
        sa_column=Column(UTCDateTime),
        description="Unset while the asset uses the handle; then when another may take it.",
    )


class GrantStatus(StrEnum):
    active = "active"
    revoked = "revoked"


class ConsentGrant(SQLModel, table=True):
    """The owner's consent: this asset may be used under this policy version until revoked."""

    __tablename__ = "consent_grant"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    asset_id: uuid.UUID = Field(foreign_key="asset.id", index=True, ondelete="RESTRICT")
    policy_version_id: uuid.UUID = Field(foreign_key="policy_version.id", ondelete="RESTRICT")
    status: GrantStatus = Field(default=GrantStatus.active, sa_column=enum_column(GrantStatus))
    granted_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    revocation_reason: str | None = Field(default=None, max_length=500)


class ReceiptEvent(StrEnum):
    consent_given = "consent_given"
    consent_withdrawn = "consent_withdrawn"


class ConsentReceipt(SQLModel, table=True):
    """A signed record (ES256 JWS) of one grant or one revocation, as given to the holder."""

    __tablename__ = "consent_receipt"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    grant_id: uuid.UUID = Field(foreign_key="consent_grant.id", index=True, ondelete="RESTRICT")
    owner_id: uuid.UUID = Field(foreign_key="account.id", index=True, ondelete="RESTRICT")
    event: ReceiptEvent = Field(sa_column=enum_column(ReceiptEvent))
    issued_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    token: str = Field(sa_column=Column(Text, nullable=False))


class MemberRole(StrEnum):
    """What a member may do with an organisation's assets (rights/authority.py)."""

    owner = "owner"  # everything, members too
    manager = "manager"  # policies, prices, consent and approvals
    viewer = "viewer"  # usage and statements


class Organisation(SQLModel, table=True):
    """A studio or an agency that holds assets. Its id is its own account's (an account no one
    signs in as), so its assets, ledger accounts, receipts and payouts are owned like a
    person's: the organisation is paid, not whoever happens to be a member."""

    id: uuid.UUID = Field(foreign_key="account.id", primary_key=True, ondelete="RESTRICT")
    name: str = Field(max_length=200)
    created_by: uuid.UUID = Field(foreign_key="account.id", ondelete="RESTRICT")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class OrganisationMember(SQLModel, table=True):
    """One account's role in one organisation; removing the row ends its access at once."""

    __tablename__ = "organisation_member"

    organisation_id: uuid.UUID = Field(
        foreign_key="organisation.id", primary_key=True, ondelete="CASCADE"
    )
    account_id: uuid.UUID = Field(
        foreign_key="account.id", primary_key=True, index=True, ondelete="RESTRICT"
    )
    role: MemberRole = Field(sa_column=enum_column(MemberRole))
    added_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class AgentAuthorisation(SQLModel, table=True):
    """A person lets an agent (another account) manage their likenesses' policies, prices and
    approvals; never their consent. Removing the row ends the agent's access at once."""

    __tablename__ = "agent_authorisation"

    person_id: uuid.UUID = Field(foreign_key="account.id", primary_key=True, ondelete="RESTRICT")
    agent_id: uuid.UUID = Field(
        foreign_key="account.id", primary_key=True, index=True, ondelete="RESTRICT"
    )
    authorised_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class InvitationKind(StrEnum):
    agent = "agent"  # to act as the inviter's agent
    member = "member"  # to join an organisation in a role


class InvitationState(StrEnum):
    pending = "pending"
    accepted = "accepted"
    declined = "declined"
    withdrawn = "withdrawn"  # by whoever sent it
    ended = "ended"  # its sender's or its recipient's address was taken by its owner


class Invitation(SQLModel, table=True):
    """An offer to act for someone (an agent) or to join an organisation (a member), sent to
    an address: whichever account proves it reads that address's mail may accept it, and the
    relation exists only then. Whether an account signs in with the address is never told to
    the sender (rights/invitations.py)."""

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    kind: InvitationKind = Field(sa_column=enum_column(InvitationKind))
    inviter_id: uuid.UUID = Field(foreign_key="account.id", index=True, ondelete="RESTRICT")
    organisation_id: uuid.UUID | None = Field(
        default=None, foreign_key="organisation.id", ondelete="RESTRICT"
    )
    role: MemberRole | None = Field(default=None, sa_column=enum_column(MemberRole, nullable=True))
    email: str = Field(max_length=320, description="As the sender typed it.")
    address: str = Field(max_length=320, index=True, description="Trimmed and lower-cased.")
    state: InvitationState = Field(
        default=InvitationState.pending, sa_column=enum_column(InvitationState)
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    answered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class EstateClaimStatus(StrEnum):
    pending = "pending"
    verified = "verified"
    rejected = "rejected"


class EstateClaim(SQLModel, table=True):
    """An applicant's claim to act for a deceased person's estate, with its evidence, until a
    moderator verifies or rejects it."""

    __tablename__ = "estate_claim"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    asset_id: uuid.UUID = Field(foreign_key="asset.id", index=True, ondelete="RESTRICT")
    applicant_id: uuid.UUID = Field(foreign_key="account.id", index=True, ondelete="RESTRICT")
    evidence: str = Field(sa_column=Column(Text, nullable=False))
    status: EstateClaimStatus = Field(
        default=EstateClaimStatus.pending, sa_column=enum_column(EstateClaimStatus)
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    decided_by: uuid.UUID | None = Field(
        default=None, foreign_key="account.id", ondelete="RESTRICT"
    )
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    decision_note: str | None = Field(default=None, max_length=1000)
