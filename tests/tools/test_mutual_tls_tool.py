"""Mutual TLS and certificate failures with real processes on loopback.

`handshake-game listen --require-client-cert` against curl, `openssl s_client` and our own
`connect`; `handshake-game connect --cert/--key` against `openssl s_server -Verify`; and each
class of bad server certificate, served by `openssl s_server`, reported by `connect` in words.
"""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from tool_helpers import PROJECT, Credentials, handshake_game, need, read_until

from handshake_game.tls import AlertDescription, pki
from handshake_game.tls.pki import CertificateProblem, Flaw, Usage

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

# Suites named explicitly, so the tests never depend on what the defaults offer.
RSA_KX = "TLS_RSA_WITH_AES_128_GCM_SHA256"
ECDHE_RSA = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
DEMO_CLIENT_HEADER = "X-TLS-Client-Certificate: CN=student,O=Handshake classroom"
REQUEST = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----\n.*?-----END CERTIFICATE-----\n", re.S)


# -- a `listen` process per test, with any flags -----------------------------------------------------


@dataclass
class ListenProcess:
    """A running `handshake-game listen` whose output is collected as it arrives."""

    proc: subprocess.Popen[str]
    port: int
    ca_file: Path
    output: bytearray = field(default_factory=bytearray)
    changed: threading.Condition = field(default_factory=threading.Condition)
    ended: bool = False

    @property
    def client_cert(self) -> Path:
        return self.ca_file.with_name(self.ca_file.stem + "-client.pem")

    @property
    def client_key(self) -> Path:
        return self.ca_file.with_name(self.ca_file.stem + "-client-key.pem")

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}/"

    def log(self) -> str:
        with self.changed:
            return self.output.decode("utf-8", "replace")

    def drain(self) -> None:
        """Keeps reading stdout (so the pipe never fills) and wakes whoever waits on it."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while chunk := os.read(fd, 65536):
            with self.changed:
                self.output += chunk
                self.changed.notify_all()
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def wait_for(self, text: str, timeout: float = 20.0) -> None:
        """Waits until ``text`` has appeared in the server's trace (never a fixed sleep)."""
        with self.changed:
            seen = self.changed.wait_for(lambda: text in self.output.decode("utf-8", "replace")
                                         or self.ended, timeout)
        assert seen and text in self.log(), f"{text!r} not in the listen trace:\n{self.log()}"


@pytest.fixture
def start_listen(tmp_path: Path) -> Iterator[Callable[..., ListenProcess]]:
    """Starts `handshake-game listen --port 0` with the given flags and its demo CA in tmp_path."""
    started: list[ListenProcess] = []

    def start(*flags: str) -> ListenProcess:
        ca_file = tmp_path / f"demo-ca-{len(started)}.pem"
        proc = subprocess.Popen(
            [sys.executable, "-m", "handshake_game", "listen", "--port", "0", "--ca-out", str(ca_file),
             *flags],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=PROJECT)
        try:
            match = read_until(proc, r"listening on https://localhost:(\d+)/")
        except BaseException:
            proc.kill()
            proc.wait(timeout=10)
            raise
        listening = ListenProcess(proc, int(match.group(1)), ca_file)
        started.append(listening)
        threading.Thread(target=listening.drain, daemon=True).start()
        return listening

    yield start
    for listening in started:
        listening.proc.terminate()
        listening.proc.wait(timeout=10)


def curl(*args: str, port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [need("curl"), "--silent", "--show-error", "--include", "--tls-max", "1.2",
         "--resolve", f"localhost:{port}:127.0.0.1", *args],
        capture_output=True, text=True, timeout=30)


def openssl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([need("openssl"), *args], input=stdin, capture_output=True, text=True,
                          timeout=30)


def connect(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    return handshake_game("connect", f"localhost:{port}", *args)


# -- certificates made for these tests -----------------------------------------------------------------


@dataclass(frozen=True)
class StudentFiles:
    """A client CA of our own and client certificates as PEM files, for `openssl s_server -Verify`."""

    ca_file: Path
    rsa_cert: Path
    rsa_key: Path
    ec_cert: Path
    ec_key: Path
    stranger_cert: Path  # from a CA the server does not trust; its key is ec_key


def _write_pem(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture(scope="module")
def students(tmp_path_factory: pytest.TempPathFactory) -> StudentFiles:
    directory = tmp_path_factory.mktemp("students")
    now = datetime.datetime.now(datetime.UTC)
    ca = pki.create_root_ca("Student CA", now)
    stranger_ca = pki.create_root_ca("Stranger CA", now)
    (directory / "student-ca.pem").write_bytes(ca.certificate_pem())
    files: dict[str, Path] = {}
    for kind, key in (("rsa", pki.generate_rsa_key()), ("ec", pki.generate_ec_key())):
        cert = pki.issue_certificate(ca, public_key=key.public_key(), common_name=f"alice-{kind}",
                                     names=["alice.handshake.test"], usage=Usage.CLIENT, now=now)
        files[f"{kind}_cert"] = _write_pem(directory / f"alice-{kind}.pem", cert)
        files[f"{kind}_key"] = directory / f"alice-{kind}-key.pem"
        files[f"{kind}_key"].write_bytes(pki.private_key_pem(key))
        if kind == "ec":
            stranger = pki.issue_certificate(stranger_ca, public_key=key.public_key(), common_name="mallory",
                                             names=["mallory.handshake.test"], usage=Usage.CLIENT, now=now)
            files["stranger_cert"] = _write_pem(directory / "mallory.pem", stranger)
    return StudentFiles(directory / "student-ca.pem", **files)


# -- listen --require-client-cert, with the demo CA's client certificate -------------------------------


def test_curl_presents_the_demo_client_certificate(start_listen) -> None:
    server = start_listen("--require-client-cert")
    assert server.client_cert.is_file() and server.client_key.is_file()
    assert server.client_key.stat().st_mode & 0o777 == 0o600  # a private key, readable by its owner only
    result = curl("--fail", "--cacert", str(server.ca_file), "--cert", str(server.client_cert),
                  "--key", str(server.client_key), server.url, port=server.port)
    assert result.returncode == 0, result.stderr
    assert "HTTP/1.1 200 OK" in result.stdout
    assert DEMO_CLIENT_HEADER in result.stdout
    assert "Your certificate: CN=student,O=Handshake classroom" in result.stdout
    server.wait_for("✓ client CertificateVerify")
    assert "✓ client certificate chain" in server.log()


def test_curl_without_a_client_certificate_is_refused(start_listen) -> None:
    server = start_listen("--require-client-cert")
    refused = curl("--cacert", str(server.ca_file), server.url, port=server.port)
    assert refused.returncode != 0
    assert "handshake failure" in refused.stderr
    assert "HTTP/1.1" not in refused.stdout
    server.wait_for("because the server requires a client certificate and the client sent none")
    assert "Alert  fatal: handshake_failure (40)" in server.log()
    # The refusal ends one connection only: the next client, with a certificate, is served.
    served = curl("--fail", "--cacert", str(server.ca_file), "--cert", str(server.client_cert),
                  "--key", str(server.client_key), server.url, port=server.port)
    assert served.returncode == 0, served.stderr
    assert DEMO_CLIENT_HEADER in served.stdout


@pytest.mark.parametrize("suite", [RSA_KX, ECDHE_RSA])
def test_our_connect_presents_the_demo_client_certificate(start_listen, suite: str) -> None:
    server = start_listen("--require-client-cert")
    result = connect(server.port, "--cafile", str(server.ca_file), "--cipher", suite,
                     "--cert", str(server.client_cert), "--key", str(server.client_key))
    assert result.returncode == 0, result.stderr
    assert "CertificateRequest  (the server asks for the client's certificate)" in result.stdout
    assert "C → S  CertificateVerify" in result.stdout
    assert "ecdsa_secp256r1_sha256" in result.stdout  # the demo client key is P-256
    assert DEMO_CLIENT_HEADER in result.stdout
    assert f"X-TLS-Cipher-Suite: {suite}" in result.stdout
    server.wait_for("✓ client CertificateVerify")


def test_our_connect_without_a_certificate_gets_a_hint(start_listen) -> None:
    server = start_listen("--require-client-cert")
    result = connect(server.port, "--cafile", str(server.ca_file), "--cipher", ECDHE_RSA)
    assert result.returncode == 1
    assert "handshake_failure" in result.stderr
    assert "--cert" in result.stderr and "--key" in result.stderr
    assert "handshake complete" not in result.stdout
    server.wait_for("because the server requires a client certificate and the client sent none")


def test_request_client_cert_serves_clients_with_or_without_one(start_listen) -> None:
    server = start_listen("--request-client-cert")
    base = ["s_client", "-connect", f"127.0.0.1:{server.port}", "-servername", "localhost", "-tls1_2",
            "-CAfile", str(server.ca_file), "-verify_return_error", "-verify_hostname", "localhost",
            "-ign_eof"]
    without = openssl(*base, stdin=REQUEST)
    assert without.returncode == 0, without.stdout + without.stderr
    assert "X-TLS-Client-Certificate: (none)" in without.stdout
    with_cert = openssl(*base, "-cert", str(server.client_cert), "-key", str(server.client_key),
                        stdin=REQUEST)
    assert with_cert.returncode == 0, with_cert.stdout + with_cert.stderr
    assert DEMO_CLIENT_HEADER in with_cert.stdout
    server.wait_for("none sent; the server allows that")


def test_demo_ca_certificates_pass_openssl_verify(start_listen, tmp_path: Path) -> None:
    server = start_listen("--request-client-cert")
    shown = openssl("s_client", "-connect", f"127.0.0.1:{server.port}", "-servername", "localhost",
                    "-tls1_2", "-showcerts", "-ign_eof", stdin=REQUEST)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    sent = PEM_CERTIFICATE.findall(shown.stdout)
    assert len(sent) == 2  # the leaf, then the demo CA
    assert x509.load_pem_x509_certificate(sent[1].encode()) == x509.load_pem_x509_certificate(
        server.ca_file.read_bytes())
    leaf = tmp_path / "leaf.pem"
    leaf.write_text(sent[0])

    as_server = openssl("verify", "-CAfile", str(server.ca_file), "-purpose", "sslserver",
                        "-verify_hostname", "localhost", str(leaf))
    assert as_server.returncode == 0, as_server.stdout + as_server.stderr
    assert as_server.stdout.strip() == f"{leaf}: OK"
    as_client = openssl("verify", "-CAfile", str(server.ca_file), "-purpose", "sslclient",
                        str(server.client_cert))
    assert as_client.returncode == 0, as_client.stdout + as_client.stderr
    assert as_client.stdout.strip() == f"{server.client_cert}: OK"
    # The demo client certificate is for clients only: OpenSSL refuses it as a server certificate.
    client_as_server = openssl("verify", "-CAfile", str(server.ca_file), "-purpose", "sslserver",
                               str(server.client_cert))
    assert client_as_server.returncode != 0
    # X509_V_ERR_INVALID_PURPOSE (26)
    assert "error 26 at 0 depth lookup: unsuitable certificate purpose" in client_as_server.stderr


def test_listen_with_a_client_cafile_trusts_that_ca_only(start_listen, students: StudentFiles) -> None:
    server = start_listen("--require-client-cert", "--client-cafile", str(students.ca_file))
    assert not server.client_cert.exists()  # no demo client certificate when the CA is given
    accepted = connect(server.port, "--cafile", str(server.ca_file), "--cipher", ECDHE_RSA, "--quiet",
                       "--cert", str(students.rsa_cert), "--key", str(students.rsa_key))
    assert accepted.returncode == 0, accepted.stderr
    assert "X-TLS-Client-Certificate: CN=alice-rsa,O=Handshake classroom" in accepted.stdout
    stranger = connect(server.port, "--cafile", str(server.ca_file), "--cipher", ECDHE_RSA,
                       "--cert", str(students.stranger_cert), "--key", str(students.ec_key))
    assert stranger.returncode == 1
    assert "the server sent a fatal alert: unknown_ca (48)" in stranger.stderr
    server.wait_for(CertificateProblem.UNTRUSTED_ISSUER.value)


@pytest.mark.parametrize(("flags", "complaint"), [
    (["--require-client-cert", "--request-client-cert"], "exclude each other"),
    (["--client-cafile", "{ca}"], "--client-cafile needs --require-client-cert or --request-client-cert"),
    (["--cert", "{cert}", "--key", "{key}", "--require-client-cert"], "needs --client-cafile"),
], ids=["require-and-request", "client-cafile-alone", "own-cert-without-client-cafile"])
def test_listen_client_auth_usage_errors(credentials: Credentials, tmp_path: Path, flags: list[str],
                                         complaint: str) -> None:
    paths = {"ca": credentials.ca_file, "cert": credentials.cert_file, "key": credentials.key_file}
    args = [flag.format(**paths) for flag in flags]
    result = handshake_game("listen", "--port", "0", "--ca-out", str(tmp_path / "ca.pem"), *args)
    assert result.returncode == 2
    assert complaint in result.stderr
    assert "listening on" not in result.stdout


def test_connect_cert_without_key_is_a_usage_error(credentials: Credentials) -> None:
    result = handshake_game("connect", "localhost:443", "--cafile", str(credentials.ca_file),
                            "--cert", str(credentials.cert_file))
    assert result.returncode == 2
    assert "--cert and --key go together" in result.stderr


# -- connect --cert/--key against openssl s_server -Verify ----------------------------------------------


@pytest.mark.parametrize("key", ["rsa", "ec"])
def test_connect_presents_a_certificate_to_openssl_s_server(s_server: Callable[..., int],
                                                           credentials: Credentials, students: StudentFiles,
                                                           key: str) -> None:
    port = s_server("-Verify", "1", "-CAfile", str(students.ca_file), "-verify_return_error")
    cert, private_key = (students.rsa_cert, students.rsa_key) if key == "rsa" else (
        students.ec_cert, students.ec_key)
    result = connect(port, "--cafile", str(credentials.ca_file), "--cert", str(cert),
                     "--key", str(private_key))
    assert result.returncode == 0, result.stderr
    assert "HTTP/1.0 200 ok" in result.stdout
    # s_server's -www page describes the client certificate it verified.
    assert "Client certificate" in result.stdout
    assert f"Subject: O=Handshake classroom, CN=alice-{key}" in result.stdout
    assert "Issuer: O=Handshake classroom, CN=Student CA" in result.stdout
    assert "no client certificate available" not in result.stdout


def test_openssl_s_server_refuses_connect_without_a_certificate(s_server: Callable[..., int],
                                                                credentials: Credentials,
                                                                students: StudentFiles) -> None:
    port = s_server("-Verify", "1", "-CAfile", str(students.ca_file), "-verify_return_error")
    result = connect(port, "--cafile", str(credentials.ca_file))
    assert result.returncode == 1
    assert "handshake_failure (40)" in result.stderr
    assert "use --cert and --key" in result.stderr
    assert "HTTP/1.0 200 ok" not in result.stdout


def test_openssl_s_server_refuses_a_certificate_from_another_ca(s_server: Callable[..., int],
                                                                credentials: Credentials,
                                                                students: StudentFiles) -> None:
    port = s_server("-Verify", "1", "-CAfile", str(students.ca_file), "-verify_return_error")
    result = connect(port, "--cafile", str(credentials.ca_file), "--cert", str(students.stranger_cert),
                     "--key", str(students.ec_key))
    assert result.returncode == 1
    assert "the server sent a fatal alert: unknown_ca (48)" in result.stderr
    assert "C → S  CertificateVerify" in result.stdout  # presented and signed, then refused


# -- each class of bad server certificate, served by openssl s_server -----------------------------------


@dataclass(frozen=True)
class BadServerCertificates:
    ca_file: Path  # the CA `connect` is told to trust
    files: dict[str, Path]  # one PEM per class, each for the key in credentials.key_file


@pytest.fixture(scope="module")
def bad_server_certificates(credentials: Credentials,
                            tmp_path_factory: pytest.TempPathFactory) -> BadServerCertificates:
    directory = tmp_path_factory.mktemp("bad-servers")
    now = datetime.datetime.now(datetime.UTC)
    key = pki.load_pem_private_key(credentials.key_file.read_bytes())  # what s_server's -key holds
    assert isinstance(key, rsa.RSAPrivateKey)
    ca = pki.create_root_ca("Server test CA", now)
    rogue = pki.create_root_ca("Rogue CA", now)
    (directory / "ca.pem").write_bytes(ca.certificate_pem())

    def issue(issuer: pki.CertificateAuthority, usage: Usage = Usage.SERVER,
              flaw: Flaw | None = None) -> x509.Certificate:
        return pki.issue_certificate(issuer, public_key=key.public_key(), common_name="localhost",
                                     names=["localhost"], usage=usage, now=now, flaw=flaw)

    certificates = {
        "untrusted-issuer": issue(rogue),
        "self-signed": pki.self_signed_certificate(key, "localhost", now),
        "expired": issue(ca, flaw=Flaw.EXPIRED),
        "not-yet-valid": issue(ca, flaw=Flaw.NOT_YET_VALID),
        "hostname-mismatch": issue(ca, flaw=Flaw.WRONG_NAME),
        "wrong-key-usage": issue(ca, usage=Usage.CLIENT),
        "bad-signature": issue(ca, flaw=Flaw.BAD_SIGNATURE),
    }
    files = {name: _write_pem(directory / f"{name}.pem", cert) for name, cert in certificates.items()}
    return BadServerCertificates(directory / "ca.pem", files)


BAD_SERVER_CERTIFICATES = [
    ("untrusted-issuer", CertificateProblem.UNTRUSTED_ISSUER, AlertDescription.unknown_ca),
    ("self-signed", CertificateProblem.SELF_SIGNED, AlertDescription.unknown_ca),
    ("expired", CertificateProblem.EXPIRED, AlertDescription.certificate_expired),
    ("not-yet-valid", CertificateProblem.NOT_YET_VALID, AlertDescription.certificate_expired),
    ("hostname-mismatch", CertificateProblem.HOSTNAME_MISMATCH, AlertDescription.certificate_unknown),
    ("wrong-key-usage", CertificateProblem.WRONG_KEY_USAGE, AlertDescription.unsupported_certificate),
    ("bad-signature", CertificateProblem.BAD_SIGNATURE, AlertDescription.bad_certificate),
]


@pytest.mark.parametrize(("kind", "problem", "alert"), BAD_SERVER_CERTIFICATES,
                         ids=[case[0] for case in BAD_SERVER_CERTIFICATES])
def test_connect_names_each_bad_server_certificate(s_server: Callable[..., int],
                                                   bad_server_certificates: BadServerCertificates,
                                                   kind: str, problem: CertificateProblem,
                                                   alert: AlertDescription) -> None:
    port = s_server(cert=bad_server_certificates.files[kind])
    result = connect(port, "--cafile", str(bad_server_certificates.ca_file))
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith("handshake-game connect: TLS handshake failed: ")
    assert problem.value in result.stderr
    assert f"{alert.name} ({int(alert)})" in result.stderr
    # The trace shows the alert going to the server, and the handshake never completing.
    assert f"C → S  Alert  fatal: {alert.name}" in result.stdout
    assert "handshake complete" not in result.stdout
