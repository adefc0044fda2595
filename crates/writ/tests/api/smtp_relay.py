"""The SMTP relay of the email tests (crates/writ/tests/api/email.rs), on aiosmtpd.

    python smtp_relay.py certs DIR
        writes DIR/ca.pem (a fresh self-signed CA), DIR/server.pem and DIR/server.key (a
        certificate for 127.0.0.1 and localhost signed by that CA), with `cryptography`.

    python smtp_relay.py serve HOST:PORT MAILDIR [--starttls CERT KEY | --smtps CERT KEY]
                                                 [--auth USER:PASSWORD]
        accepts mail into the Maildir until killed. `--starttls` requires STARTTLS before MAIL;
        `--smtps` is TLS from the first byte; `--auth` requires AUTH (PLAIN or LOGIN) with those
        credentials. Each stored message gains `X-Relay-Security` (plain, starttls, smtps) and
        `X-Auth-Login` (the user it authenticated as, or none), for the tests to assert on.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
import ssl
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword


def certs(directory: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Writ test relay CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    os.makedirs(directory, exist_ok=True)
    pem = serialization.Encoding.PEM
    with open(os.path.join(directory, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(pem))
    with open(os.path.join(directory, "server.pem"), "wb") as f:
        f.write(server.public_bytes(pem))
    with open(os.path.join(directory, "server.key"), "wb") as f:
        f.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


class Recording(Mailbox):
    def __init__(self, maildir: str, security: str) -> None:
        super().__init__(maildir)
        self.security = security

    def prepare_message(self, session, envelope):
        message = super().prepare_message(session, envelope)
        security = "starttls" if self.security == "starttls" and session.ssl else self.security
        message["X-Relay-Security"] = security
        login = getattr(session.auth_data, "login", None)
        message["X-Auth-Login"] = login.decode() if login else "none"
        return message


def serve(args: argparse.Namespace) -> None:
    host, port = args.listen.rsplit(":", 1)
    security = "starttls" if args.starttls else "smtps" if args.smtps else "plain"
    kwargs = {}
    cert_key = args.starttls or args.smtps
    if cert_key:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*cert_key)
        if args.starttls:
            kwargs.update(tls_context=context, require_starttls=True)
        else:
            kwargs.update(ssl_context=context)
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login == user.encode() and auth_data.password == password.encode())
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

        # Implicit TLS is TLS already; aiosmtpd only knows STARTTLS as such.
        kwargs.update(authenticator=authenticator, auth_required=True,
                      auth_require_tls=security == "starttls")
    controller = Controller(Recording(args.maildir, security), hostname=host, port=int(port), **kwargs)
    controller.start()
    print("ready", flush=True)
    threading.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    c = commands.add_parser("certs")
    c.add_argument("directory")
    s = commands.add_parser("serve")
    s.add_argument("listen")
    s.add_argument("maildir")
    s.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    s.add_argument("--smtps", nargs=2, metavar=("CERT", "KEY"))
    s.add_argument("--auth")
    args = parser.parse_args()
    if args.command == "certs":
        certs(args.directory)
    else:
        serve(args)


if __name__ == "__main__":
    main()
