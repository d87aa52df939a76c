"""The revenue split of one use, exact in minor units (properties, with hypothesis)."""

import uuid
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payouts.accounts import payable, platform, wallet
from payouts.journal import check_balanced
from payouts.models import AccountKind
from payouts.split import LicensedUse, Usage, split_usage
from payouts.usage import usage_entry

HOLDERS = [uuid.UUID(int=n) for n in range(1, 4)]
licences = st.lists(
    st.builds(
        LicensedUse,
        holder_id=st.sampled_from(HOLDERS),
        price_minor=st.integers(0, 10**12),
        revenue_share_bps=st.integers(0, 10_000),
    ),
    max_size=6,
)


def _usage(licensed, compute: int) -> Usage:
    return Usage(
        generation_id=uuid.uuid4(),
        creator_id=uuid.UUID(int=99),
        total_minor=compute + sum(licence.price_minor for licence in licensed),
        currency="USD",
        licences=tuple(licensed),
    )


@given(licensed=licences, compute=st.integers(0, 10**6))
def test_the_parts_add_up_and_each_holder_gets_their_share_rounded_down(licensed, compute):
    usage = _usage(licensed, compute)
    split = split_usage(usage)

    assert sum(split.holders.values()) + split.platform_minor == usage.total_minor
    for holder in HOLDERS:
        mine = [licence for licence in licensed if licence.holder_id == holder]
        exact = sum(Fraction(lic.price_minor * lic.revenue_share_bps, 10_000) for lic in mine)
        earned = split.holders.get(holder, 0)
        assert earned <= exact and exact - earned < max(len(mine), 1)
    # The platform keeps compute and the remainders: less than one minor unit a licence.
    kept = split.platform_minor - compute
    fees_kept = sum(
        Fraction(lic.price_minor * (10_000 - lic.revenue_share_bps), 10_000) for lic in licensed
    )
    assert fees_kept <= kept < fees_kept + len(licensed) + (not licensed)


@given(licensed=licences, compute=st.integers(0, 10**6))
def test_a_usage_entry_balances_and_names_each_earner_once(licensed, compute):
    usage = _usage(licensed, compute)
    entry = usage_entry(usage)
    if usage.total_minor == 0:
        assert entry is None
        return
    check_balanced(entry)
    accounts = [leg.account for leg in entry.legs]
    assert len(accounts) == len(set(accounts))
    assert entry.legs[0].account == wallet(usage.creator_id, "USD")
    assert entry.legs[0].debit_minor == usage.total_minor
    assert set(accounts[1:]) <= {payable(holder, "USD") for holder in HOLDERS} | {
        platform(AccountKind.platform_revenue, "USD")
    }


def test_an_eighty_percent_share_of_a_fee_of_one_cent_is_nothing_and_the_platform_keeps_it():
    holder = uuid.UUID(int=1)
    usage = _usage([LicensedUse(holder, 1, 8_000), LicensedUse(holder, 999, 8_000)], compute=4)
    split = split_usage(usage)
    assert split.holders == {holder: 799}  # 0.8 rounds to 0, 799.2 to 799
    assert split.platform_minor == 4 + 1 + 200


@pytest.mark.parametrize(
    "usage",
    [
        Usage(uuid.uuid4(), uuid.uuid4(), 10, "USD", (LicensedUse(uuid.uuid4(), 11, 8_000),)),
        Usage(uuid.uuid4(), uuid.uuid4(), 10, "USD", (LicensedUse(uuid.uuid4(), 5, 10_001),)),
        Usage(uuid.uuid4(), uuid.uuid4(), 10, "USD", (LicensedUse(uuid.uuid4(), -5, 8_000),)),
        Usage(uuid.uuid4(), uuid.uuid4(), -1, "USD", ()),
    ],
    ids=["fees over the charge", "share over 100%", "negative fee", "negative charge"],
)
def test_a_usage_no_release_could_make_is_refused(usage):
    with pytest.raises(ValueError):
        split_usage(usage)
