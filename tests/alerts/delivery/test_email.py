"""E-mail through a real SMTP server (aiosmtpd): STARTTLS with a certificate made at test time, SSL, plain."""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import ssl
from collections.abc import Iterator
from email.message import Message
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from alerts.delivery.channels import DeliveryFailed, make_channel
from crawler.config import ChannelConfig

from .conftest import FakeClock, mention_payload


def make_cert(tmp: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert.pem doubles as the CA file the client trusts)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook name
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"


def _auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"alerts", b"pw-123")
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture
def smtp(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Controller, Inbox, Path]]:
    mode = request.param
    cert, key = make_cert(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    inbox = Inbox()
    kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": free_port()}
    if mode == "starttls":
        kwargs.update(tls_context=ctx, require_starttls=True, authenticator=_auth, auth_require_tls=True)
    elif mode == "ssl":
        kwargs.update(ssl_context=ctx)
    controller = Controller(inbox, **kwargs)
    controller.start()
    try:
        yield controller, inbox, cert
    finally:
        controller.stop()


def free_port() -> int:
    """A port the OS just handed out (aiosmtpd's controller needs a concrete port to check readiness)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port(controller: Controller) -> int:
    return int(controller.port)


def _cfg(controller: Controller, security: str, cert: Path, **kw: Any) -> ChannelConfig:
    return ChannelConfig(
        type="email",
        smtp_host="127.0.0.1",
        smtp_port=_port(controller),
        security=security,
        sender="yuqing@example.com",
        recipients=["pr@example.com", "ops@example.com"],
        ca_file=str(cert),
        timeout_seconds=5,
        **kw,
    )


def _send(cfg: ChannelConfig, clock: FakeClock, key: str = "yq-mail-1") -> None:
    ch = make_channel("mail", cfg, clock=clock.time)
    [part] = ch.parts(mention_payload(), ref="告警编号 5", key=key)
    ch.send(part, key=key)


@pytest.mark.parametrize("smtp", ["starttls"], indirect=True)
def test_starttls_with_login(smtp: tuple[Controller, Inbox, Path], clock: FakeClock) -> None:
    controller, inbox, cert = smtp
    _send(_cfg(controller, "starttls", cert, username="alerts", password="pw-123"), clock)
    [msg] = inbox.messages
    assert msg["Message-ID"] == "<yq-mail-1@yuqing.alerts>"
    assert msg["Subject"].startswith("🟠 【紧急】鲜果时光 舆情预警：芒果冰沙喝后腹泻")
    assert inbox.envelopes[0].rcpt_tos == ["pr@example.com", "ops@example.com"]
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert (
        "作者：吃货小王（粉丝 12.3万，已认证）" in plain
        and "查看原帖：https://m.weibo.cn/detail/4900000001" in plain
    )
    assert '<a href="https://m.weibo.cn/detail/4900000001">查看原帖</a>' in html and "TS20261122-0001" in html


@pytest.mark.parametrize("smtp", ["starttls"], indirect=True)
def test_wrong_password_is_permanent(smtp: tuple[Controller, Inbox, Path], clock: FakeClock) -> None:
    controller, inbox, cert = smtp
    with pytest.raises(DeliveryFailed) as info:
        _send(_cfg(controller, "starttls", cert, username="alerts", password="nope"), clock)
    assert info.value.code == 535 and not info.value.retryable and inbox.messages == []


@pytest.mark.parametrize("smtp", ["starttls"], indirect=True)
def test_untrusted_certificate_is_refused(
    smtp: tuple[Controller, Inbox, Path], clock: FakeClock, tmp_path: Path
) -> None:
    controller, inbox, _cert = smtp
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other, _ = make_cert(other_dir)
    with pytest.raises(DeliveryFailed) as info:
        _send(_cfg(controller, "starttls", other), clock)
    assert not info.value.retryable and "certificate" in str(info.value)


@pytest.mark.parametrize("smtp", ["ssl"], indirect=True)
def test_implicit_ssl(smtp: tuple[Controller, Inbox, Path], clock: FakeClock) -> None:
    controller, inbox, cert = smtp
    _send(_cfg(controller, "ssl", cert), clock)
    assert len(inbox.messages) == 1 and inbox.messages[0].is_multipart()


@pytest.mark.parametrize("smtp", ["plain"], indirect=True)
def test_plain_smtp(smtp: tuple[Controller, Inbox, Path], clock: FakeClock) -> None:
    controller, inbox, cert = smtp
    _send(_cfg(controller, "none", cert), clock)
    [msg] = inbox.messages
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]


def test_smtp_down_is_retryable(clock: FakeClock) -> None:
    port = free_port()
    cfg = ChannelConfig(
        type="email",
        smtp_host="127.0.0.1",
        smtp_port=port,
        security="none",
        sender="a@example.com",
        recipients=["b@example.com"],
        timeout_seconds=2,
    )
    with pytest.raises(DeliveryFailed) as info:
        _send(cfg, clock)
    assert info.value.retryable
