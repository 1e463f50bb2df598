"""mTLS (`serve --tls --tls-client-ca [PATH]`): a TLS client must show a certificate issued by
the configured CA, checked with Python's ssl and aiohttp, and with `openssl s_client` as an
independent client."""

from __future__ import annotations

import argparse
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization

from simulator.cli import serve
from simulator.config import TEST_CA
from simulator.security.pki import Identity, TestPki, load_keystore, write_keystore
from tests.support.server import ServerThread, start_server

PASSWORD = "test-password"
REQUEST = b"GET /__admin/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    running = start_server(
        tmp_path_factory.mktemp("mtls"), patients=50, providers=10, tls=True, tls_client_ca=TEST_CA
    )
    yield running
    running.stop()


def _pem_files(identity: Identity, directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    cert.write_bytes(identity.cert_pem)
    key.write_bytes(
        identity.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key


@pytest.fixture(scope="module")
def provider(server: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A provider's keystore (PKCS#12, as vendors get them) opened into PEM files."""
    sim = server.sim
    gp = next(p for p in sim.population.providers if p.kind == "GP")
    directory = tmp_path_factory.mktemp("provider")
    keystore = directory / "gp.p12"
    write_keystore(keystore, sim.pki.issue_provider(gp.nihii, gp.ssin, "Dr GP"), PASSWORD)
    return _pem_files(load_keystore(keystore, PASSWORD), directory / "pem")


@pytest.fixture(scope="module")
def stranger(server: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same provider's subject, issued by another simulator's CA."""
    gp = next(p for p in server.sim.population.providers if p.kind == "GP")
    other = TestPki.load_or_create(tmp_path_factory.mktemp("other-pki"))
    identity = other.issue_provider(gp.nihii, gp.ssin, "Dr GP")
    return _pem_files(identity, tmp_path_factory.mktemp("stranger"))


def _context(server: ServerThread, client: tuple[Path, Path] | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(server.sim.pki.ca_cert_path))
    if client is not None:
        context.load_cert_chain(*client)
    return context


async def _health(server: ServerThread, context: ssl.SSLContext) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.base_url + "/__admin/health", ssl=context) as response,
    ):
        await response.read()
        return response.status


async def test_a_provider_certificate_opens_the_connection(
    server: ServerThread, provider: tuple[Path, Path]
) -> None:
    assert await _health(server, _context(server, provider)) == 200


@pytest.mark.parametrize("who", ["nobody", "stranger"])
async def test_no_certificate_or_a_foreign_one_is_refused(
    server: ServerThread, stranger: tuple[Path, Path], who: str
) -> None:
    context = _context(server, None if who == "nobody" else stranger)
    # TLS 1.3 reports the refusal after the handshake, at the first read.
    with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)):
        await _health(server, context)


def _s_client(server: ServerThread, *options: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [
            "openssl",
            "s_client",
            "-connect",
            f"127.0.0.1:{server.settings.port}",
            "-servername",
            "localhost",
            "-CAfile",
            str(server.sim.pki.ca_cert_path),
            "-verify_return_error",
            "-quiet",
            *options,
        ],
        input=REQUEST,
        capture_output=True,
        timeout=30,
        check=False,
    )


needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl")


@needs_openssl
def test_openssl_with_the_provider_certificate_is_answered(
    server: ServerThread, provider: tuple[Path, Path]
) -> None:
    cert, key = provider
    done = _s_client(server, "-cert", str(cert), "-key", str(key))
    assert done.stdout.startswith(b"HTTP/1.1 200"), done.stderr.decode(errors="replace")


@needs_openssl
@pytest.mark.parametrize("who", ["nobody", "stranger"])
def test_openssl_without_an_accepted_certificate_is_refused(
    server: ServerThread, stranger: tuple[Path, Path], who: str
) -> None:
    options = () if who == "nobody" else ("-cert", str(stranger[0]), "-key", str(stranger[1]))
    done = _s_client(server, *options)
    assert b"HTTP/1.1" not in done.stdout
    stderr = done.stderr.decode(errors="replace").lower()
    # The server ends the handshake: an alert (certificate required, unknown CA), just EOF,
    # or a reset (errno 104: the socket closed with the client's request unread, which the
    # kernel answers with RST when the client wrote before the refusal reached it).
    ended = ("alert", "unexpected eof", "errno=104", "connection reset")
    assert any(sign in stderr for sign in ended), stderr


async def test_without_client_ca_no_certificate_is_asked(tmp_path: Path) -> None:
    plain = start_server(tmp_path / "tls", patients=50, providers=10, tls=True)
    try:
        assert await _health(plain, _context(plain, None)) == 200
    finally:
        plain.stop()


async def test_a_ca_file_of_ones_own(
    tmp_path: Path, stranger: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The stranger's CA is in the other pki dir next to its provider certificates.
    other_ca = next(tmp_path_factory.getbasetemp().glob("other-pki*/pki/ca.pem"))
    own = start_server(
        tmp_path / "own", patients=50, providers=10, tls=True, tls_client_ca=other_ca
    )
    try:
        assert await _health(own, _context(own, stranger)) == 200
    finally:
        own.stop()


# -- the command line ------------------------------------------------------------------------


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    serve.register(parser.add_subparsers())
    return parser.parse_args(["serve", *argv])


def test_the_bare_option_means_the_test_ca() -> None:
    assert _parse("--tls", "--tls-client-ca").tls_client_ca == TEST_CA
    assert _parse("--tls-client-ca", "ca.pem", "--tls").tls_client_ca == Path("ca.pem")
    assert _parse().tls_client_ca is None


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("--tls-client-ca",), "add --tls"),
        (("--tls", "--tls-client-ca", "/nonexistent/ca.pem"), "is not a file"),
    ],
)
def test_the_option_is_checked(
    argv: tuple[str, ...], says: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = _parse("--data-dir", str(tmp_path), *argv)
    assert serve.run(args) == 2
    assert says in capsys.readouterr().err
