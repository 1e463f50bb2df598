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
    ORGANISATION_TYPES,
    PROFESSIONS_ANY_DIGIT,
    PROFESSIONS_BY_DIGIT,
    CertSubject,
    KeystoreError,
    TestPki,
    chains_to,
    load_keystore,
    organisation_identifier,
    parse_subject,
    profession_for_nihii,
    write_keystore,
)

EPILOG = """\
examples:
  mycarenet-sim certs provider --nihii 10394044003 --ssin 62040858223 --name "Ana Tanghe" \\
      --out doctor.p12 --password test
  mycarenet-sim certs provider --nihii 40123455001 --ssin 93062644690 --profession midwife \\
      --key-type ec --out midwife.p12 --password test
  mycarenet-sim certs organisation --type hospital --nihii 71022212 --name "AZ Test" \\
      --out hospital.p12 --password test
  mycarenet-sim certs organisation --type enterprise --cbe 0820563481 --name "Acme" \\
      --out acme.p12 --password test
  mycarenet-sim certs eid --ssin 62040858223 --given-name Ana --surname Tanghe \\
      --out eid.p12 --password test
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
        help="certificate profession when the NIHII digit allows several (4: NURSE or "
        "MIDWIFE, 5: PHYSIOTHERAPIST or LOGOPEDIST); "
        f"{', '.join(PROFESSIONS_ANY_DIGIT)} with any digit",
    )
    provider.add_argument(
        "--legacy-subject",
        action="store_true",
        help="the simulator's former subject (holder name in the CN) instead of the real "
        'eHealth form CN="SSIN=..., NIHII-<PROFESSION>=..."',
    )
    provider.add_argument("--key-type", choices=["rsa", "ec"], default="rsa")
    provider.add_argument("--out", type=Path, required=True, help="keystore file to write")
    provider.add_argument("--password", required=True, help="keystore password")
    add_data_dir_argument(provider)
    provider.set_defaults(handler=_guarded(run_provider))

    organisation = sub.add_parser(
        "organisation",
        help="issue an eHealth organisation keystore (hospital, medical house, CBE, ...)",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    organisation.add_argument(
        "--type", required=True, choices=list(ORGANISATION_TYPES), help="organisation kind"
    )
    ids = organisation.add_mutually_exclusive_group(required=True)
    ids.add_argument("--nihii", help="institution NIHII (8 digits, or 11 ending in 000)")
    ids.add_argument("--cbe", help="enterprise number (10 digits), for --type enterprise")
    ids.add_argument("--ehp", help="eHealth platform number (10 digits), for --type ehp")
    organisation.add_argument("--name", default=None, help="organisation name (an OU)")
    organisation.add_argument("--key-type", choices=["rsa", "ec"], default="rsa")
    organisation.add_argument("--out", type=Path, required=True, help="keystore file to write")
    organisation.add_argument("--password", required=True, help="keystore password")
    add_data_dir_argument(organisation)
    organisation.set_defaults(handler=_guarded(run_organisation))

    eid = sub.add_parser(
        "eid",
        help="issue a Belgian eID-style authentication keystore (simulated eID CA)",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    eid.add_argument("--ssin", required=True, help="11-digit NISS/INSZ (the SERIALNUMBER)")
    eid.add_argument("--given-name", required=True, help="given name(s) (GN)")
    eid.add_argument("--surname", required=True, help="surname (SN)")
    eid.add_argument("--key-type", choices=["rsa", "ec"], default="rsa")
    eid.add_argument("--out", type=Path, required=True, help="keystore file to write")
    eid.add_argument("--password", required=True, help="keystore password")
    add_data_dir_argument(eid)
    eid.set_defaults(handler=_guarded(run_eid))

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
    if nihii[0] not in PROFESSIONS_BY_DIGIT and (profession or "") not in PROFESSIONS_ANY_DIGIT:
        raise UsageError(
            f"--nihii {nihii}: first digit {nihii[0]} is not an individual care provider "
            f"(1 physician, 2 hospital pharmacist, 3 dentist, 4 nurse/midwife, "
            f"5 physiotherapist/logopedist, 6 pharmacist; --profession "
            f"{'/'.join(PROFESSIONS_ANY_DIGIT)} with any digit)"
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
        args.nihii,
        args.ssin,
        args.name,
        args.key_type,
        profession=args.profession,
        legacy_subject=args.legacy_subject,
    )
    write_keystore(args.out, identity, args.password)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    _report(args, identity, pki.ca_cert_path, pki.providers_dir / f"{args.nihii}.pem")
    return 0


def run_organisation(args: argparse.Namespace) -> int:
    identifier = args.nihii or args.cbe or args.ehp
    expected = {"enterprise": "--cbe", "ehp": "--ehp"}.get(args.type, "--nihii")
    given = "--nihii" if args.nihii else "--cbe" if args.cbe else "--ehp"
    if given != expected:
        raise UsageError(f"--type {args.type} is identified by {expected}, not {given}")
    if args.out.is_dir():
        raise UsageError(f"--out {args.out} is a directory; give a file name like org.p12")
    try:
        _, digits = organisation_identifier(args.type, identifier)
    except ValueError as error:
        raise UsageError(f"{given} {identifier}: {error}") from None
    pki = TestPki.load_or_create(args.data_dir)
    identity = pki.issue_organisation(args.type, digits, args.name, args.key_type)
    write_keystore(args.out, identity, args.password)
    _report(args, identity, pki.ca_cert_path, pki.providers_dir / f"{digits}.pem")
    return 0


def run_eid(args: argparse.Namespace) -> int:
    if not (len(args.ssin) == 11 and args.ssin.isascii() and args.ssin.isdigit()):
        raise UsageError(f"--ssin {args.ssin!r}: a NISS has exactly 11 digits")
    if not is_valid_niss(args.ssin, today=date.today()):
        raise UsageError(
            f"--ssin {args.ssin}: check digits are wrong or the birth date is impossible"
        )
    if args.out.is_dir():
        raise UsageError(f"--out {args.out} is a directory; give a file name like eid.p12")
    pki = TestPki.load_or_create(args.data_dir)
    identity = pki.issue_eid(args.ssin, args.given_name, args.surname, args.key_type)
    write_keystore(args.out, identity, args.password)
    _report(args, identity, pki.eid_ca_cert_path, None)
    return 0


def _report(args: argparse.Namespace, identity: Any, ca_path: Path, recorded: Path | None) -> None:
    cert = identity.cert
    print(f"wrote keystore {args.out} (PKCS#12, alias 'authentication', key {args.key_type})")
    print(f"  subject     {cert.subject.rfc4514_string()}")
    print(f"  serial      {cert.serial_number:x}")
    print(f"  valid       {_day(cert.not_valid_before_utc)} .. {_day(cert.not_valid_after_utc)}")
    print(f"  issued by   {cert.issuer.rfc4514_string()} ({ca_path})")
    if recorded is not None:
        print(f"  recorded    {recorded} (for the ETK depot)")


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
        ("eid-ca", pki.eid_ca.cert),
    ]
    rows = [_row(role, cert, paths[role]) for role, cert in roles]
    rows += [
        _row(_holder_role(parse_subject(cert)), cert, path)
        for path, cert in pki.provider_certificate_files()
    ]
    return rows


def _holder_role(subject: CertSubject) -> str:
    if subject.organisation_type:
        return f"organisation {subject.organisation_type}"
    return f"provider {subject.profession or ''}".strip()


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
    if subject.problem:
        print(f"  holder      unreadable: {subject.problem}")
    elif subject.organisation_type:
        print(
            f"  holder      organisation={subject.organisation_type} nihii={subject.nihii} "
            f"cbe={subject.cbe} ehp={subject.ehp}"
        )
    else:
        print(
            f"  holder      ssin={subject.ssin} nihii={subject.nihii} "
            f"profession={subject.profession}"
        )
    print(f"  key         {type(identity.key).__name__.lstrip('_')}")
    print(
        f"  valid       {_day(identity.cert.not_valid_before_utc)} .. "
        f"{_day(identity.cert.not_valid_after_utc)}"
    )
    pki_dir = args.data_dir / "pki"
    if pki_dir.is_dir():
        pki = TestPki.load_or_create(args.data_dir)
        trusted = chains_to(identity.cert, pki.ca.cert) or chains_to(identity.cert, pki.eid_ca.cert)
        print(
            f"  issued by this simulator's CAs ({pki.ca_cert_path}, {pki.eid_ca_cert_path}): "
            f"{'yes' if trusted else 'NO'}"
        )
    return 0


def _day(moment: datetime) -> str:
    return moment.date().isoformat()
