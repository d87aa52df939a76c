"""Fixtures of the notification tests: endpoints on this machine are allowed (the receivers
listen on 127.0.0.1), and a receiver."""

from collections.abc import Iterator

import pytest
from webhook_receiver import Receiver, webhook_receiver

from clearhouse.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_allow_private_addresses": True,
            "webhook_max_attempts": 3,
            "webhook_disable_after": 4,
        }
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as running:
        yield running
