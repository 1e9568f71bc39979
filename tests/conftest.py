"""Session-wide test fixtures: a real classroom PKI, PEM files for OpenSSL, endpoint factories.

Everything expensive (RSA key generation, certificate issuance) happens once per session.
The certificates are issued relative to the real clock because OpenSSL checks them against
it; tests of validity periods pass their own ``now`` to our client instead.

``postgres_url`` gives a test its own empty PostgreSQL database on the server that
``scripts/postgres.sh`` starts (HANDSHAKE_TEST_PG_URL, else that script's default URL).
When none answers, those tests fail: they never skip.
"""

from __future__ import annotations

import datetime
import os
import secrets
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import settings
from sqlalchemy.pool import NullPool

from handshake_game.tls import ClientConfig, ServerConfig, TLSClient, TLSServer, pki
from handshake_game.tls.suites import DEFAULT_CIPHER_SUITES, suite_by_name

# A property test fails for a wrong answer, never for a slow example: CI shares two cores with
# PostgreSQL, Chromium and OpenSSL, and hypothesis's default 200 ms deadline is a timed assertion.
settings.register_profile("handshake", deadline=None)
settings.load_profile("handshake")


@dataclass(frozen=True)
class ServerIdentity:
    """A server's certificate chain and key, in every form the tests need."""

    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    cert_pem: Path
    key_pem: Path

    @property
    def chain(self) -> tuple[bytes, ...]:
        return (self.certificate.public_bytes(serialization.Encoding.DER),)


@pytest.fixture(scope="session")
def issued_at() -> datetime.datetime:
    """When the session's certificates were issued (they are valid for 90 days from here)."""
    return datetime.datetime.now(datetime.UTC)


@pytest.fixture(scope="session")
def pem_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pki")


@pytest.fixture(scope="session")
def root_ca(issued_at: datetime.datetime) -> pki.CertificateAuthority:
    return pki.create_root_ca("Handshake Test Root CA", issued_at)


@pytest.fixture(scope="session")
def other_ca(issued_at: datetime.datetime) -> pki.CertificateAuthority:
    """A CA nobody in the tests trusts."""
    return pki.create_root_ca("Untrusted Rogue CA", issued_at)


@pytest.fixture(scope="session")
def ca_pem(root_ca: pki.CertificateAuthority, pem_dir: Path) -> Path:
    path = pem_dir / "ca.pem"
    path.write_bytes(root_ca.certificate_pem())
    return path


def _identity(ca: pki.CertificateAuthority, hostname: str,
              key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, now: datetime.datetime,
              directory: Path, stem: str) -> ServerIdentity:
    certificate = pki.issue_server_certificate(ca, hostname, key.public_key(), now)
    cert_pem = directory / f"{stem}.crt.pem"
    key_pem = directory / f"{stem}.key.pem"
    cert_pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(pki.private_key_pem(key))
    return ServerIdentity(certificate, key, cert_pem, key_pem)


@pytest.fixture(scope="session")
def server_key() -> rsa.RSAPrivateKey:
    return pki.generate_rsa_key(2048)


@pytest.fixture(scope="session")
def rsa_server(root_ca: pki.CertificateAuthority, server_key: rsa.RSAPrivateKey,
               issued_at: datetime.datetime, pem_dir: Path) -> ServerIdentity:
    """A 2048-bit RSA key and a certificate for "localhost" issued by the root CA."""
    return _identity(root_ca, "localhost", server_key, issued_at, pem_dir, "localhost-rsa")


@pytest.fixture(scope="session")
def ecdsa_server(root_ca: pki.CertificateAuthority, issued_at: datetime.datetime,
                 pem_dir: Path) -> ServerIdentity:
    """A P-256 key and a certificate for "localhost", for the ECDHE_ECDSA suites."""
    return _identity(root_ca, "localhost", pki.generate_ec_key(), issued_at, pem_dir,
                     "localhost-ecdsa")


@pytest.fixture(scope="session")
def rogue_server(other_ca: pki.CertificateAuthority, server_key: rsa.RSAPrivateKey,
                 issued_at: datetime.datetime, pem_dir: Path) -> ServerIdentity:
    """A "localhost" certificate from a CA the clients do not trust."""
    return _identity(other_ca, "localhost", server_key, issued_at, pem_dir, "localhost-rogue")


@pytest.fixture(scope="session")
def make_client(root_ca: pki.CertificateAuthority):
    """A started-later TLSClient for "localhost" trusting the root CA; kwargs go to ClientConfig.

    It offers TLS 1.2 only, as most engine tests are about the TLS 1.2 handshake, unless
    the test names TLS 1.3 suites or versions itself.
    """

    def make(rng=None, now=None, **config) -> TLSClient:
        suites = config.get("cipher_suites", ())
        if not any(suite_by_name(name).tls13 for name in suites):
            config.setdefault("versions", (0x0303,))
            if not suites:
                config["cipher_suites"] = tuple(n for n in DEFAULT_CIPHER_SUITES
                                                if not suite_by_name(n).tls13)
        config.setdefault("server_name", "localhost")
        config.setdefault("trust_store", [root_ca.certificate])
        extra = {k: v for k, v in (("rng", rng), ("now", now)) if v is not None}
        return TLSClient(ClientConfig(**config), **extra)

    return make


@pytest.fixture(scope="session")
def make_server(rsa_server: ServerIdentity):
    """A TLSServer with the RSA "localhost" identity unless told otherwise."""

    def make(identity: ServerIdentity | None = None, rng=None, **config) -> TLSServer:
        identity = identity or rsa_server
        extra = {"rng": rng} if rng is not None else {}
        return TLSServer(ServerConfig(identity.chain, identity.private_key, **config), **extra)

    return make


@pytest.fixture(scope="session")
def openssl_server_context(rsa_server: ServerIdentity):
    """An OpenSSL TLS 1.2 server context with the RSA identity, for one OpenSSL cipher name."""

    def make(cipher: str, identity: ServerIdentity | None = None) -> ssl.SSLContext:
        identity = identity or rsa_server
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(identity.cert_pem, identity.key_pem)
        ctx.set_ciphers(cipher)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    return make


@pytest.fixture(scope="session")
def openssl_client_context(ca_pem: Path):
    """An OpenSSL TLS 1.2 client context that verifies chain and hostname against the root CA."""

    def make(cipher: str) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=ca_pem)
        ctx.set_ciphers(cipher)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    return make


PG_URL_VARIABLE = "HANDSHAKE_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql+psycopg://handshake:handshake@127.0.0.1:5432/handshake_test"
"""What ``scripts/postgres.sh`` prints: its role, password, port and database."""


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[sa.Engine]:
    """An autocommit engine on the test server's maintenance database (CREATE/DROP DATABASE)."""
    url = sa.make_url(os.environ.get(PG_URL_VARIABLE) or DEFAULT_PG_URL)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as error:
        pytest.fail(f"no PostgreSQL answers at {url} (set {PG_URL_VARIABLE}, or run "
                    f"`bash scripts/postgres.sh`, which starts one there): {error.orig}", pytrace=False)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_server: sa.Engine) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped after the test."""
    name = f"handshake_test_{secrets.token_hex(6)}"
    with postgres_server.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield postgres_server.url.set(database=name).render_as_string(hide_password=False)
    with postgres_server.connect() as connection:
        # A Store the test forgot to dispose must not keep its database alive.
        connection.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
