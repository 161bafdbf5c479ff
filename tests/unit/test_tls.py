"""The run's own CA: its files live in one temp dir of the run's and go with it; a client
given ``trust.context(ca)`` trusts a server presenting the run's certificate over a real
TLS socket, one without it does not; the HTTP versions libraries print, as ALPN's words;
the clients kept out of the default run come only by name."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from streamcompat.clients import trust
from streamcompat.harness.engine.networks import speaks_tls
from streamcompat.harness.front.selection import select_clients
from streamcompat.harness.hosts.tls import authority
from streamcompat.harness.kernel.networks import NETWORK_GROUPS, NETWORKS, network


def test_the_authority_lives_in_its_own_private_dir_and_goes_with_the_context() -> None:
    with authority() as made:
        files = {made.ca, made.cert, made.key}
        assert all(f.parent == made.folder and f.is_file() for f in files)
        assert stat.S_IMODE(made.folder.stat().st_mode) == 0o700
        assert sorted(p.name for p in made.folder.iterdir()) == ["ca.pem", "cert.pem", "key.pem"]
        assert b"PRIVATE KEY" in made.key.read_bytes()
    assert not made.folder.exists()


def test_the_spki_hash_is_the_certificates_own() -> None:
    with authority() as made:
        leaf = x509.load_pem_x509_certificate(made.cert.read_bytes())
        public = leaf.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert made.spki == base64.b64encode(hashlib.sha256(public).digest()).decode()
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "localhost" in names.get_values_for_type(x509.DNSName)


def test_the_folder_is_removed_when_the_run_fails_too() -> None:
    with pytest.raises(RuntimeError), authority() as made:
        raise RuntimeError("the run failed")
    assert not made.folder.exists()


async def _handshake(port: int, context: ssl.SSLContext) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    try:
        return await asyncio.wait_for(reader.read(5), 5)
    finally:
        writer.close()


def test_a_client_trusts_the_runs_certificate_with_the_ca_and_not_without() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello")
        await writer.drain()
        writer.close()

    async def main() -> tuple[bytes, BaseException | None]:
        with authority() as made:
            server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            server_side.load_cert_chain(made.cert, made.key)
            server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_side)
            port = server.sockets[0].getsockname()[1]
            async with server:
                trusted = await _handshake(port, trust.context(str(made.ca)))
                try:
                    await _handshake(port, ssl.create_default_context())
                except ssl.SSLCertVerificationError as exc:
                    return trusted, exc
                return trusted, None

    trusted, refused = asyncio.run(main())
    assert trusted == b"hello"
    assert isinstance(refused, ssl.SSLCertVerificationError)


@pytest.mark.parametrize(
    ("printed", "alpn"),
    [
        ("HTTP/1.1", "http/1.1"),  # httpx, curl
        ("HTTP/1.0", "http/1.0"),
        ("HTTP/2", "h2"),  # curl's status line
        ("HTTP/2.0", "h2"),
        (" http/2 ", "h2"),
        ("HTTP/3", "http/3"),  # not mapped: shown as said, in ALPN's case
    ],
)
def test_http_versions_are_said_in_alpn_words(printed: str, alpn: str) -> None:
    assert trust.alpn(printed) == alpn


def test_the_tls_group_is_the_tls_networks_and_real_stays_plain() -> None:
    assert set(NETWORK_GROUPS["tls"]) == {n for n, r in NETWORKS.items() if r.tls}
    assert {"nginx-h2", "caddy-h2"} <= set(NETWORK_GROUPS["tls"])
    assert not set(NETWORK_GROUPS["tls"]) & set(NETWORK_GROUPS["real"])


def test_a_users_config_that_presents_the_runs_certificate_speaks_tls(tmp_path: Path) -> None:
    plain, own = tmp_path / "plain.conf", tmp_path / "tls.conf"
    plain.write_text("server { listen @LISTEN@; location / { proxy_pass http://@UPSTREAM@; } }\n")
    own.write_text("server { listen @LISTEN@ ssl http2; ssl_certificate @CERT@; }\n")
    assert speaks_tls(network("nginx-h2")) and not speaks_tls(network("nginx"))
    assert speaks_tls(network(f"nginx:{own}"))
    assert not speaks_tls(network(f"nginx:{plain}"))
    assert not speaks_tls(network(f"nginx:{tmp_path / 'missing.conf'}"))


def test_clients_kept_out_of_the_default_run_come_only_by_name() -> None:
    default = {c.name for c in select_clients([])}
    assert "httpx" in default and "curl" in default
    assert not {"httpx-h2", "curl-h2"} & default
    assert "httpx-h2" not in {c.name for c in select_clients(["python"])}
    assert {c.name for c in select_clients(["httpx-h2", "cli"])} >= {"httpx-h2", "curl"}
    assert "curl-h2" not in {c.name for c in select_clients(["cli"])}


def test_each_library_gets_a_context_of_its_own() -> None:
    """httpx sets the ALPN protocols of the context it is given: shared with aiohttp, it
    made aiohttp offer h2 and read a proxy's HTTP/2 frames as a bad status line."""
    with authority() as made:
        ca = str(made.ca)
        assert trust.context(ca, "httpx-h2") is trust.context(ca, "httpx-h2")
        assert trust.context(ca, "httpx-h2") is not trust.context(ca, "aiohttp")
        assert trust.context(ca, "httpx") is not trust.context(ca, "httpx-h2")


def test_direct_tls_needs_a_server_that_serves_tls_itself() -> None:
    """An app serves plain HTTP here: direct-tls says to put a TLS proxy in front."""
    from streamcompat.harness.engine.networks import network_origin
    from streamcompat.harness.engine.server import ServerError

    class PlainApp:
        origin, port, tls_origin = "http://127.0.0.1:1", 1, ""

    class Served:
        origin, port, tls_origin = "http://127.0.0.1:1", 1, "https://127.0.0.1:2"

    async def origin_of(server: object) -> str:
        async with network_origin("direct-tls", server) as origin:  # type: ignore[arg-type]
            return origin

    with pytest.raises(ServerError, match="put a TLS proxy in front of it"):
        asyncio.run(origin_of(PlainApp()))
    assert asyncio.run(origin_of(Served())) == "https://127.0.0.1:2"
