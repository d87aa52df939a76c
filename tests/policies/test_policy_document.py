"""The policy document: defaults to nobody, refuses inconsistent policies with clear errors."""

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from policies.document import NOBODY, Audience, ContentCategory, PolicyDocument, Use


def test_the_default_admits_nobody():
    assert PolicyDocument() == NOBODY
    assert NOBODY.audience == Audience.nobody
    assert not NOBODY.admits_anyone()
    assert NOBODY.allowed_uses == []


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"audience": "listed", "allowed_uses": ["personal"]}, "at least one account"),
        ({"audience": "anyone"}, "at least one entry in allowed_uses"),
        (
            {
                "audience": "anyone",
                "allowed_uses": ["personal"],
                "listed_accounts": [str(uuid.uuid4())],
            },
            "only for audience 'listed'",
        ),
        ({"audience": "anyone", "allowed_uses": ["personal", "personal"]}, "once"),
        (
            {
                "audience": "anyone",
                "allowed_uses": ["personal"],
                "daily_use_limit": 5,
                "total_use_limit": 2,
            },
            "cannot exceed",
        ),
        ({"price": {"currency": "XYZ"}}, "currency"),
        ({"price": {"per_use_minor": -1}}, "greater than or equal"),
        ({"price": {"per_use_minor": 1.5}}, "integer"),
        ({"price": {"per_use_minor": "100"}}, "integer"),
        ({"expires_at": "2030-01-01T00:00:00"}, "timezone"),
        ({"minors_may_use": "yes"}, "boolean"),
        ({"allowed_uses": ["world_domination"]}, "personal"),
        ({"schema_version": 2}, "1"),
        ({"revenue_share_bps": 9000}, "Extra inputs"),
    ],
)
def test_inconsistent_policies_are_refused_with_a_reason(document, message):
    with pytest.raises(ValidationError) as error:
        PolicyDocument.model_validate(document)
    assert message in str(error.value)


policies = st.builds(
    PolicyDocument,
    audience=st.sampled_from([Audience.nobody, Audience.anyone]),
    allowed_uses=st.lists(st.sampled_from(list(Use)), min_size=1, unique=True),
    excluded_content=st.lists(st.sampled_from(list(ContentCategory)), unique=True),
    minors_may_use=st.booleans(),
    approval_required=st.booleans(),
    daily_use_limit=st.none() | st.integers(1, 1000),
    expires_at=st.none() | st.datetimes(timezones=st.just(UTC), min_value=datetime(2000, 1, 1)),
)


@given(policies)
def test_a_stored_policy_reads_back_the_same(document):
    stored = document.model_dump(mode="json")
    assert PolicyDocument.from_stored(stored) == document


@given(policies, st.datetimes(timezones=st.just(UTC)))
def test_expiry_is_exactly_the_expires_at_instant(document, now):
    expected = document.expires_at is not None and now >= document.expires_at
    assert document.is_expired(now) is expected
