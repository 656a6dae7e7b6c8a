"""E-mail over SMTP: an HTML message with a plain-text alternative; STARTTLS, SSL or none.

The Message-ID is derived from the idempotency key, so a re-sent alert (after a crash
between sending and recording it) is the same message to mail clients that thread or
de-duplicate by Message-ID. SMTP 4xx answers and connection failures are retried; 5xx
answers (refused recipient, failed login) and TLS verification failures are permanent.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from loguru import logger

from alerts.delivery import escape
from alerts.delivery.channels.base import Channel, tls_context
from alerts.delivery.formats import to_html, to_text
from alerts.delivery.render import Doc


class EmailChannel(Channel):
    type = "email"

    def body(self, doc: Doc, *, part: str = "") -> dict[str, str]:
        return {
            "subject": escape.plain(f"{doc.summary}{part}", max_chars=200),
            "text": to_text(doc, part=part),
            "html": to_html(doc, part=part),
        }

    def message(self, body: dict[str, str], key: str) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = body["subject"]
        msg["From"] = self.cfg.sender or ""
        msg["To"] = ", ".join(self.cfg.recipients)
        msg["Date"] = formatdate(self.clock(), localtime=False)
        msg["Message-ID"] = f"<{key}@yuqing.alerts>"
        msg["X-Yuqing-Idempotency-Key"] = key
        msg.set_content(body["text"], subtype="plain", charset="utf-8")
        msg.add_alternative(body["html"], subtype="html", charset="utf-8")
        return msg

    def _connect(self) -> smtplib.SMTP:
        host, port, timeout = self.cfg.smtp_host or "", self.cfg.port, self.cfg.timeout_seconds
        if self.cfg.security == "ssl":
            return smtplib.SMTP_SSL(host, port, timeout=timeout, context=tls_context(self.cfg.ca_file))
        smtp = smtplib.SMTP(host, port, timeout=timeout)
        if self.cfg.security == "starttls":
            smtp.starttls(context=tls_context(self.cfg.ca_file))
        return smtp

    def send(self, body: Any, *, key: str) -> None:
        try:
            with self._connect() as smtp:
                if self.cfg.username:
                    password = self.cfg.password.get_secret_value() if self.cfg.password else ""
                    smtp.login(self.cfg.username, password)
                refused = smtp.send_message(self.message(body, key))
        except smtplib.SMTPRecipientsRefused as exc:
            raise self.fail(f"all recipients refused ({len(exc.recipients)})", retryable=False) from exc
        except smtplib.SMTPResponseException as exc:
            temporary = 400 <= exc.smtp_code < 500
            raise self.fail(
                f"SMTP {exc.smtp_code} {exc.smtp_error[:120]!r}", retryable=temporary, code=exc.smtp_code
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            raise self.fail(f"TLS certificate rejected: {exc.verify_message}", retryable=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise self.fail(f"SMTP connection failed: {type(exc).__name__}") from exc
        if refused:
            # Some recipients got it: not retried (that would duplicate for the others).

            logger.warning("e-mail channel {name}: {n} recipient(s) refused", name=self.name, n=len(refused))
