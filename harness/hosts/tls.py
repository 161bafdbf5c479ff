"""A throwaway certificate authority per run, for the networks that speak TLS.

``authority()`` makes a CA and a certificate for ``127.0.0.1`` and ``localhost`` signed
by it (``trustme``), writes them into a temp dir of the run's own (mode 0700) and
removes the dir when the run ends, however it ends: nothing of them is left outside it.
Every client trusts the CA the way its users configure a private one: Python clients
by ``verify=``/``ssl=`` (an ``ssl.SSLContext`` loaded with ``ca``), Node by
``NODE_EXTRA_CA_CERTS``, curl by ``--cacert``, Chromium by the certificate's SPKI hash
(``--ignore-certificate-errors-spki-list``), as its docs say for a private CA in tests.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Authority", "authority"]

#: The names the run's certificate is good for: where its servers and proxies listen.
HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class Authority:
    """The run's CA and the one server certificate it signed, as files in ``folder``."""

    folder: Path
    ca: Path  # the CA certificate (PEM): what clients are told to trust
    cert: Path  # the server's certificate chain (PEM): what servers and proxies present
    key: Path  # its private key (PEM)
    spki: str  # base64 SHA-256 of the certificate's SubjectPublicKeyInfo (Chromium)


@contextlib.contextmanager
def authority() -> Iterator[Authority]:
    """A new CA and server certificate for the length of the context; removed after."""
    import trustme  # only runs with a TLS network pay for importing it
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    folder = Path(tempfile.mkdtemp(prefix="streamcompat-tls-"))  # 0700: the key is in it
    try:
        ca = trustme.CA(organization_name="streamcompat run")
        issued = ca.issue_cert(*HOSTS)
        made = Authority(folder, folder / "ca.pem", folder / "cert.pem", folder / "key.pem", "")
        ca.cert_pem.write_to_path(str(made.ca))
        issued.private_key_pem.write_to_path(str(made.key))
        with made.cert.open("wb") as chain:
            for pem in issued.cert_chain_pems:
                chain.write(pem.bytes())
        leaf = x509.load_pem_x509_certificate(issued.cert_chain_pems[0].bytes())
        public = leaf.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        spki = base64.b64encode(hashlib.sha256(public).digest()).decode("ascii")
        yield Authority(made.folder, made.ca, made.cert, made.key, spki)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
