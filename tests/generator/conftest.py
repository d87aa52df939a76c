"""The generator's fixtures: one tiny pipeline and one platform signing identity per run; a
creator, and a character licensed to anyone."""

import pytest
from claiming import verified
from factories import granted_asset, sign_up
from generating import USD_POLICY

from clearhouse.settings import Settings
from generator.pipeline import ClipPipeline, load_configured_pipeline
from generator.signing_identity import SigningIdentity, configured_signing_identity


@pytest.fixture(scope="session")
def generator_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings with no model directory and no certificates: the embedded defaults, made in
    a data dir of the run's own."""
    return Settings(data_dir=tmp_path_factory.mktemp("generator-data"))


@pytest.fixture(scope="session")
def clip_pipeline(generator_settings: Settings) -> ClipPipeline:
    """The tiny untrained pipeline, built into the data dir's models/ and loaded from there."""
    return load_configured_pipeline(generator_settings)


@pytest.fixture(scope="session")
def platform_signer(generator_settings: Settings) -> SigningIdentity:
    return configured_signing_identity(generator_settings)


@pytest.fixture(scope="session")
def platform_ca(generator_settings: Settings, platform_signer: SigningIdentity) -> bytes:
    """The PEM certificate of the platform's self-made CA, which issued ``platform_signer``."""
    return (generator_settings.key_dir / "provenance-ca.crt").read_bytes()


@pytest.fixture
def requester(client):
    """A creator: asks for generations, owns nothing."""
    return sign_up(client, role="creator")


@pytest.fixture
def character(client, session, holder) -> dict:
    """The holder's character @nova_knight, its claim verified (it earns), licensed to anyone
    for USD 1.50 + 0.10/s; its grant's id is under ``grant_id``."""
    asset, granted = granted_asset(client, holder, handle="nova_knight", policy=USD_POLICY)
    verified(client, session, holder, asset["id"])
    return {**asset, "grant_id": granted["grant"]["id"]}
