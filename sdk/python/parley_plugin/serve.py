"""serve(): run a plugin process the way go-plugin's Go ``plugin.Serve`` does.

The handshake (hashicorp/go-plugin's documented protocol, gRPC only):

1. The host starts the process with ``PARLEY_PLUGIN=<cookie>``,
   ``PLUGIN_PROTOCOL_VERSIONS`` (versions it speaks), and for AutoMTLS
   ``PLUGIN_CLIENT_CERT`` (its PEM certificate). Without the cookie the
   process explains that it is a plugin and exits 1.
2. The plugin listens on a Unix socket in a private temporary directory and
   prints one line on stdout:
   ``CORE-PROTOCOL-VERSION|APP-PROTOCOL-VERSION|NETWORK-TYPE|NETWORK-ADDR|PROTOCOL|SERVER-CERT``,
   e.g. ``1|1|unix|/tmp/parley-plugin-x/plugin.sock|grpc|MIIB...`` where the
   last field is the DER of a fresh self-signed certificate for
   ``localhost``, base64 without padding. TLS then requires the host's
   certificate as the client certificate.
3. Afterwards stdout is no longer the handshake: ``print()`` goes to the log.

The process stops gracefully on the host's ``GRPCController.Shutdown`` or on
SIGTERM (streams get ``STOP_GRACE`` seconds to end, then are cancelled).
SIGINT is ignored, as in Go plugins: a Ctrl-C at the host's terminal reaches
the whole process group, and the host decides when its plugins stop.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import logging
import os
import shutil
import signal
import sys
import tempfile
from typing import List, Optional, Sequence, TextIO, Tuple, cast

import grpc
from grpc import aio

from parley_plugin import _goplugin, _services
from parley_plugin.log import JSONFormatter, LogWriter
from parley_plugin.plugin import LLM, STT, TTS, Plugin

__all__ = ["MAGIC_COOKIE_KEY", "MAGIC_COOKIE_VALUE", "PROTOCOL_VERSION", "STOP_GRACE", "negotiate", "serve"]

#: go-plugin's core protocol version (the first handshake field).
CORE_PROTOCOL_VERSION = 1
#: The Parley plugin protocol version this SDK speaks (Go's sdk.ProtocolVersion).
PROTOCOL_VERSION = _services.PROTOCOL_VERSION
#: The magic cookie: not a secret, it only stops the plugin from running by hand.
MAGIC_COOKIE_KEY = "PARLEY_PLUGIN"
MAGIC_COOKIE_VALUE = "7c1f4e0b9a2d4d6e8f53b1a0c9e2d74f"
#: Seconds running streams get to end on shutdown before they are cancelled.
STOP_GRACE = 1.0
#: Message size limit both ways, as the Go SDK sets it (gRPC's default is 4 MiB).
MAX_MESSAGE_BYTES = 16 << 20
#: Lifetime of the generated server certificate; it dies with the process anyway.
_CERT_LIFETIME = datetime.timedelta(days=3650)
_CERT_BACKDATE = datetime.timedelta(seconds=30)

_NOT_BY_HAND = (
    "This program is a Parley plugin: it is started by the Parley server, which\n"
    "speaks to it over gRPC. It is not meant to be run by hand; point a\n"
    "plugins.instances entry of Parley's configuration at it instead.\n"
)

_log = logging.getLogger("parley_plugin")


def negotiate(offered: str, supported: Sequence[int] = (PROTOCOL_VERSION,)) -> int:
    """Picks the protocol version from ``PLUGIN_PROTOCOL_VERSIONS``.

    The newest version both sides speak wins. With no common version (or no
    list at all) the plugin's newest is offered and the host refuses it with
    a clear "incompatible API version" error, as go-plugin does.
    Entries that are not numbers are reported on stderr and skipped.
    """
    host: List[int] = []
    for part in filter(None, (p.strip() for p in offered.split(","))):
        try:
            host.append(int(part))
        except ValueError:
            sys.stderr.write(f"host sent invalid plugin protocol version {part!r}\n")
    common = set(host) & set(supported)
    return max(common) if common else max(supported)


def _server_certificate() -> Tuple[bytes, bytes, bytes]:
    """A fresh self-signed ECDSA P-256 certificate for localhost: (cert PEM, key PEM, cert DER)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Parley plugin")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CERT_BACKDATE)
        .not_valid_after(now + _CERT_LIFETIME)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=True, key_cert_sign=True, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem, cert.public_bytes(serialization.Encoding.DER)


def _setup_logging(level: int) -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JSONFormatter())
        root.addHandler(handler)
    root.setLevel(level)


def _pick(stt: Optional[STT], llm: Optional[LLM], tts: Optional[TTS]) -> Plugin:
    given = [(impl, base) for impl, base in ((stt, STT), (llm, LLM), (tts, TTS)) if impl is not None]
    if len(given) != 1:
        raise TypeError(f"serve: set exactly one of stt, llm, tts (got {len(given)})")
    impl, base = given[0]
    if not isinstance(impl, base):
        raise TypeError(f"serve: {type(impl).__name__} is not a parley_plugin.{base.__name__}")
    return impl


async def _run(impl: Plugin, version: int) -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    tasks: set[asyncio.Task[None]] = set()  # keeps the stop task referenced until it ran
    server = aio.server(
        options=[
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            # No BDP pings on the local socket (the Go side uses static windows).
            ("grpc.http2.bdp_probe", 0),
        ]
    )
    service = _services.register(server, impl)

    def shutdown() -> None:
        if not stopping.is_set():
            _log.debug("plugin stopping")
            stopping.set()
            task = loop.create_task(server.stop(STOP_GRACE))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    _goplugin.register(server, shutdown, stopping)
    sock_dir = tempfile.mkdtemp(prefix="parley-plugin-", dir=os.environ.get("PLUGIN_UNIX_SOCKET_DIR") or None)
    try:
        address = os.path.join(sock_dir, "plugin.sock")
        client_cert = os.environ.get("PLUGIN_CLIENT_CERT", "")
        server_cert = ""
        if client_cert:
            cert_pem, key_pem, der = _server_certificate()
            creds = grpc.ssl_server_credentials([(key_pem, cert_pem)], root_certificates=client_cert.encode(), require_client_auth=True)
            server.add_secure_port("unix:" + address, creds)
            server_cert = base64.b64encode(der).decode().rstrip("=")
        else:
            server.add_insecure_port("unix:" + address)
        await server.start()
        loop.add_signal_handler(signal.SIGTERM, shutdown)
        loop.add_signal_handler(signal.SIGINT, lambda: None)
        line = f"{CORE_PROTOCOL_VERSION}|{version}|unix|{address}|grpc|{server_cert}\n"
        sys.stdout.write(line)
        sys.stdout.flush()
        # From now on stdout is not the handshake: native writes to fd 1 land
        # on stderr (the host logs them at Debug) and print() is logged.
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        sys.stdout = cast(TextIO, LogWriter(logging.getLogger("stdout"), "stdout"))
        _log.debug("plugin serving", extra={"service": service, "protocol_version": version, "tls": bool(client_cert)})
        await server.wait_for_termination()
    finally:
        shutil.rmtree(sock_dir, ignore_errors=True)


def serve(*, stt: Optional[STT] = None, llm: Optional[LLM] = None, tts: Optional[TTS] = None, log_level: int = logging.INFO) -> None:
    """Serves exactly one plugin implementation until the host stops it.

    Call it from the plugin's ``__main__``. Started by hand (without the
    host's magic cookie) it prints why that does not work and exits 1.
    Returns after a graceful stop (host Shutdown or SIGTERM); the process
    then exits 0. Raises TypeError unless exactly one implementation of the
    right base class is given.
    """
    impl = _pick(stt, llm, tts)
    if os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        sys.stderr.write(_NOT_BY_HAND)
        raise SystemExit(1)
    version = negotiate(os.environ.get("PLUGIN_PROTOCOL_VERSIONS", ""))
    _setup_logging(log_level)
    asyncio.run(_run(impl, version))
