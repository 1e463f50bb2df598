"""`mycarenet-sim certs`: provider keystores and a look at the test PKI."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from simulator.cli.options import UsageError, add_command_group, add_data_dir_argument
from simulator.domain.identifiers import is_valid_nihii, is_valid_niss
from simulator.security.pki import (
    PROFESSIONS_BY_DIGIT,
    KeystoreError,
    TestPki,
    chains_to,
    load_keystore,
    parse_subject,
    profession_for_nihii,
    write_keystore,
)

EPILOG = """\
examples:
  mycarenet-sim certs provider --nihii 10185748004 --ssin 85073003328 --name "Jan Peeters" \\
      --out doctor.p12 --password test
  mycarenet-sim certs provider --nihii 40123456001 --ssin 85073003328 --profession midwife \\
      --key-type ec --out midwife.p12 --password test
  mycarenet-sim certs show --json
  mycarenet-sim certs inspect doctor.p12 --password test
"""


def register(commands: Any) -> None:
    _, sub = add_command_group(
        commands,
        "certs",
        help="test PKI: provider keystores, certificate listing",
        description="Issue provider keystores from the simulator's test PKI and list it.",
        epilog=EPILOG,
    )

    provider = sub.add_parser(
        "provider",
        help="issue a care provider's PKCS#12 keystore (alias 'authentication')",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    provider.add_argument("--nihii", required=True, help="11-digit NIHII/RIZIV number")
    provider.add_argument("--ssin", required=True, help="11-digit NISS/INSZ of the holder")
    provider.add_argument("--name", default=None, help="holder name (certificate CN)")
    provider.add_argument(
        "--profession",
        default=None,
        type=str.upper,
        help="certificate profession when the NIHII digit allows several (4: NURSE or MIDWIFE)",
    )
    provider.add_argument("--key-type", choices=["rsa", "ec"], default="rsa")
    provider.add_argument("--out", type=Path, required=True, help="keystore file to write")
    provider.add_argument("--password", required=True, help="keystore password")
    add_data_dir_argument(provider)
    provider.set_defaults(handler=_guarded(run_provider))

    show = sub.add_parser("show", help="list the CA, STS, insurer, TLS and provider certificates")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    add_data_dir_argument(show)
    show.set_defaults(handler=_guarded(run_show))

    inspect = sub.add_parser("inspect", help="check a keystore: password, holder, chain")
    inspect.add_argument("keystore", type=Path, help="PKCS#12 file")
    inspect.add_argument("--password", required=True, help="keystore password")
    add_data_dir_argument(inspect)
    inspect.set_defaults(handler=_guarded(run_inspect))


def _guarded(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn expected failures into one `error:` line and an exit code, never a traceback."""

    def handler(args: argparse.Namespace) -> int:
        try:
            return int(run(args))
        except (UsageError, KeystoreError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except OSError as error:
            print(f"error: {error.filename or ''}: {error.strerror or error}", file=sys.stderr)
            return 1

    return handler


# ---------------------------------------------------------------------------------------------
# certs provider


def check_provider_ids(nihii: str, ssin: str, profession: str | None) -> list[str]:
    """Raise `UsageError` for unusable identifiers; return warnings for doubtful ones."""
    if not (len(nihii) == 11 and nihii.isascii() and nihii.isdigit()):
        raise UsageError(f"--nihii {nihii!r}: a NIHII has exactly 11 digits")
    if not (len(ssin) == 11 and ssin.isascii() and ssin.isdigit()):
        raise UsageError(f"--ssin {ssin!r}: a NISS has exactly 11 digits")
    if not is_valid_niss(ssin, today=date.today()):
        raise UsageError(
            f"--ssin {ssin}: check digits are wrong (97 - first 9 digits mod 97, or with a "
            "leading 2 for births from 2000) or the birth date is impossible"
        )
    if nihii[0] not in PROFESSIONS_BY_DIGIT:
        raise UsageError(
            f"--nihii {nihii}: first digit {nihii[0]} is not an individual care provider "
            f"(1 physician, 2 hospital pharmacist, 3 dentist, 4 nurse/midwife, "
            f"5 physiotherapist, 6 pharmacist)"
        )
    try:
        profession_for_nihii(nihii, profession)
    except ValueError as error:
        raise UsageError(str(error)) from None
    warnings = []
    if not is_valid_nihii(nihii):
        # Kept as a warning: test numbers with wrong check digits are handy for negative tests.
        warnings.append(
            f"NIHII {nihii}: check digits do not match (mod 97 or mod 89); real services "
            "would reject it"
        )
    return warnings


def run_provider(args: argparse.Namespace) -> int:
    warnings = check_provider_ids(args.nihii, args.ssin, args.profession)
    if args.out.is_dir():
        raise UsageError(f"--out {args.out} is a directory; give a file name like doctor.p12")
    pki = TestPki.load_or_create(args.data_dir)
    identity = pki.issue_provider(
        args.nihii, args.ssin, args.name, args.key_type, profession=args.profession
    )
    write_keystore(args.out, identity, args.password)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    cert = identity.cert
    print(f"wrote keystore {args.out} (PKCS#12, alias 'authentication', key {args.key_type})")
    print(f"  subject     {cert.subject.rfc4514_string()}")
    print(f"  serial      {cert.serial_number:x}")
    print(f"  valid       {_day(cert.not_valid_before_utc)} .. {_day(cert.not_valid_after_utc)}")
    print(f"  issued by   {cert.issuer.rfc4514_string()} ({pki.ca_cert_path})")
    print(f"  recorded    {pki.providers_dir / (args.nihii + '.pem')} (for the ETK depot)")
    return 0


# ---------------------------------------------------------------------------------------------
# certs show


@dataclass(frozen=True)
class CertRow:
    role: str
    subject: str
    serial: str
    not_before: str
    not_after: str
    path: str


def _row(role: str, cert: x509.Certificate, path: Path) -> CertRow:
    return CertRow(
        role=role,
        subject=cert.subject.rfc4514_string(),
        serial=f"{cert.serial_number:x}",
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=cert.not_valid_after_utc.isoformat(),
        path=str(path),
    )


def certificate_rows(pki: TestPki) -> list[CertRow]:
    paths = pki.role_cert_paths()
    roles = [
        ("ca", pki.ca.cert),
        ("sts", pki.sts.cert),
        ("insurer-signing", pki.insurer_signing.cert),
        ("insurer-encryption", pki.insurer_encryption.cert),
        ("tls", pki.tls.cert),
    ]
    rows = [_row(role, cert, paths[role]) for role, cert in roles]
    rows += [
        _row(f"provider {parse_subject(cert).profession or ''}".strip(), cert, path)
        for path, cert in pki.provider_certificate_files()
    ]
    return rows


def run_show(args: argparse.Namespace) -> int:
    created = not (args.data_dir / "pki").is_dir()
    pki = TestPki.load_or_create(args.data_dir)
    rows = certificate_rows(pki)
    if args.json:
        print(json.dumps([asdict(row) for row in rows], indent=2))
        return 0
    if created:
        print(f"(created a new test PKI in {pki.pki_dir})")
    table = [("ROLE", "SUBJECT", "SERIAL", "VALID FROM", "VALID UNTIL", "FILE")]
    table += [
        (r.role, r.subject, r.serial[:16], r.not_before[:10], r.not_after[:10], r.path)
        for r in rows
    ]
    widths = [max(len(cells[i]) for cells in table) for i in range(len(table[0]) - 1)]
    for cells in table:
        padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=False)]
        print("  ".join([*padded, cells[-1]]))
    return 0


# ---------------------------------------------------------------------------------------------
# certs inspect


def run_inspect(args: argparse.Namespace) -> int:
    identity = load_keystore(args.keystore, args.password)
    subject = parse_subject(identity.cert)
    print(f"keystore {args.keystore}: password OK")
    print(f"  subject     {identity.cert.subject.rfc4514_string()}")
    print(
        f"  holder      ssin={subject.ssin} nihii={subject.nihii} profession={subject.profession}"
    )
    print(f"  key         {type(identity.key).__name__.lstrip('_')}")
    print(
        f"  valid       {_day(identity.cert.not_valid_before_utc)} .. "
        f"{_day(identity.cert.not_valid_after_utc)}"
    )
    pki_dir = args.data_dir / "pki"
    if pki_dir.is_dir():
        pki = TestPki.load_or_create(args.data_dir)
        trusted = chains_to(identity.cert, pki.ca.cert)
        print(f"  issued by this simulator's CA ({pki.ca_cert_path}): {'yes' if trusted else 'NO'}")
    return 0


def _day(moment: datetime) -> str:
    return moment.date().isoformat()
