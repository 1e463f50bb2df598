"""`mycarenet-sim certs`: provider keystores, the PKI listing, clear errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from simulator.cli.main import main
from simulator.security.pki import TestPki, chains_to, load_keystore, parse_subject

NIHII = "10185748004"  # valid check digits (mod 89)
SSIN = "85073003328"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


def _provider(data_dir: Path, out: Path, *extra: str, nihii: str = NIHII, ssin: str = SSIN) -> int:
    argv = ["certs", "provider", "--nihii", nihii, "--ssin", ssin, "--out", str(out)]
    return main([*argv, "--password", "pw", "--data-dir", str(data_dir), *extra])


def test_provider_writes_a_keystore_that_loads_back(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "doctor.p12"
    assert _provider(data_dir, out, "--name", "Jan Peeters") == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and "NIHII-PHYSICIAN=10185748004" in printed
    identity = load_keystore(out, "pw")
    subject = parse_subject(identity.cert)
    assert (subject.ssin, subject.nihii, subject.profession, subject.name) == (
        SSIN,
        NIHII,
        "PHYSICIAN",
        "Jan Peeters",
    )
    pki = TestPki.load_or_create(data_dir)
    assert chains_to(identity.cert, pki.ca.cert)
    assert identity.cert in pki.provider_certificates()


@pytest.mark.interop
def test_openssl_accepts_the_keystore(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "doctor.p12"
    assert _provider(data_dir, out) == 0
    result = subprocess.run(
        ["openssl", "pkcs12", "-info", "-nokeys", "-in", str(out), "-passin", "pass:pw"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "friendlyName: authentication" in result.stdout


def test_ec_key_and_explicit_midwife_profession(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "midwife.p12"
    extra = ["--key-type", "ec", "--profession", "midwife"]
    assert _provider(data_dir, out, *extra, nihii="41234567001") == 0
    identity = load_keystore(out, "pw")
    assert isinstance(identity.key, ec.EllipticCurvePrivateKey)
    assert parse_subject(identity.cert).profession == "MIDWIFE"


@pytest.mark.parametrize(
    ("nihii", "ssin", "message"),
    [
        ("1018574800", SSIN, "--nihii '1018574800': a NIHII has exactly 11 digits"),
        (NIHII, "8507300332x", "--ssin '8507300332x': a NISS has exactly 11 digits"),
        (NIHII, "85073003329", "--ssin 85073003329: check digits are wrong"),
        ("71040622000", SSIN, "first digit 7 is not an individual care provider"),
    ],
)
def test_bad_identifiers_fail_with_a_clear_message(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    nihii: str,
    ssin: str,
    message: str,
) -> None:
    out = tmp_path / "x.p12"
    assert _provider(data_dir, out, nihii=nihii, ssin=ssin) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_niss_born_after_2000_is_accepted(data_dir: Path, tmp_path: Path) -> None:
    assert _provider(data_dir, tmp_path / "young.p12", ssin="17073003384") == 0


def test_wrong_nihii_check_digits_only_warn(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _provider(data_dir, tmp_path / "x.p12", nihii="19999999001") == 0
    assert "warning: NIHII 19999999001: check digits do not match" in capsys.readouterr().err


def test_out_must_not_be_a_directory(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _provider(data_dir, tmp_path) == 2
    assert "is a directory" in capsys.readouterr().err


def test_inspect_with_the_wrong_password_is_a_clear_error(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "doctor.p12"
    assert _provider(data_dir, out) == 0
    capsys.readouterr()
    argv = ["certs", "inspect", str(out), "--data-dir", str(data_dir), "--password"]
    assert main([*argv, "nope"]) == 2
    err = capsys.readouterr().err
    assert f"error: wrong password for keystore {out}" in err and "Traceback" not in err
    assert main([*argv, "pw"]) == 0
    printed = capsys.readouterr().out
    assert "password OK" in printed and ": yes" in printed


def _bad_password(data_dir: Path) -> list[str]:
    return ["--password", "bad", "--data-dir", str(data_dir)]


def test_wrong_password_through_the_console_entry_point_has_no_traceback(
    data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "doctor.p12"
    assert _provider(data_dir, out) == 0
    result = subprocess.run(
        [sys.executable, "-m", "simulator", "certs", "inspect", str(out), *_bad_password(data_dir)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 2
    assert "wrong password" in result.stderr and "Traceback" not in result.stderr


def test_show_json_lists_every_role_with_existing_files(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _provider(data_dir, tmp_path / "d.p12") == 0
    capsys.readouterr()
    assert main(["certs", "show", "--json", "--data-dir", str(data_dir)]) == 0
    rows = json.loads(capsys.readouterr().out)
    roles = [row["role"] for row in rows]
    assert roles[:5] == ["ca", "sts", "insurer-signing", "insurer-encryption", "tls"]
    assert "provider PHYSICIAN" in roles
    for row in rows:
        assert Path(row["path"]).is_file()
        assert row["not_before"] < row["not_after"]
        int(row["serial"], 16)
    ca = next(row for row in rows if row["role"] == "ca")
    assert ca["subject"] == TestPki.load_or_create(data_dir).ca.cert.subject.rfc4514_string()


def test_show_table_creates_the_pki_when_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["certs", "show", "--data-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("(created a new test PKI")
    assert lines[1].split()[:2] == ["ROLE", "SUBJECT"]
    assert any(line.startswith("ca ") and line.endswith("ca.pem") for line in lines)


# --- issue 10: the identities real clients use --------------------------------------------------


def test_provider_writes_the_real_ehealth_subject_by_default(
    data_dir: Path, tmp_path: Path
) -> None:
    real, legacy = tmp_path / "real.p12", tmp_path / "legacy.p12"
    assert _provider(data_dir, real, "--name", "Jan Peeters") == 0
    assert _provider(data_dir, legacy, "--name", "Jan Peeters", "--legacy-subject") == 0
    real_cn = load_keystore(real, "pw").cert.subject.rfc4514_string()
    assert f"CN=SSIN={SSIN}\\, NIHII-PHYSICIAN={NIHII}" in real_cn
    assert "CN=Jan Peeters" in load_keystore(legacy, "pw").cert.subject.rfc4514_string()
    for keystore in (real, legacy):  # both forms read the same
        subject = parse_subject(load_keystore(keystore, "pw").cert)
        assert (subject.ssin, subject.nihii, subject.name) == (SSIN, NIHII, "Jan Peeters")


def test_a_second_keystore_for_the_same_nihii_keeps_the_first(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    assert _provider(data, tmp_path / "one.p12") == 0
    assert _provider(data, tmp_path / "two.p12") == 0
    one, two = (load_keystore(tmp_path / f"{n}.p12", "pw").cert for n in ("one", "two"))
    certs = TestPki.load_or_create(data).provider_certificates()
    assert one in certs and two in certs and certs.index(two) < certs.index(one)


@pytest.mark.parametrize(
    ("profession", "nihii"),
    [("dietician", "81234567001"), ("clinical_psychologist", "91234567001")],
)
def test_professions_without_a_known_digit_need_the_profession(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], profession: str, nihii: str
) -> None:
    out = tmp_path / "p.p12"
    assert _provider(data_dir, out, nihii=nihii) == 2
    assert "with any digit" in capsys.readouterr().err
    assert _provider(data_dir, out, "--profession", profession, nihii=nihii) == 0
    assert parse_subject(load_keystore(out, "pw").cert).profession == profession.upper()


@pytest.mark.parametrize(
    ("argv", "kind", "nihii", "cbe"),
    [
        (["--type", "hospital", "--nihii", "71022212"], "hospital", "71022212", None),
        (["--type", "medicalhouse", "--nihii", "94123456000"], "medicalhouse", "94123456", None),
        (["--type", "enterprise", "--cbe", "820563481"], "enterprise", None, "0820563481"),
    ],
)
def test_organisation_keystores(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    kind: str,
    nihii: str | None,
    cbe: str | None,
) -> None:
    out = tmp_path / "org.p12"
    common = ["--name", "Test Org", "--out", str(out), "--password", "pw"]
    assert main(["certs", "organisation", *argv, *common, "--data-dir", str(data_dir)]) == 0
    assert "for the ETK depot" in capsys.readouterr().out
    subject = parse_subject(load_keystore(out, "pw").cert)
    assert (subject.organisation_type, subject.nihii, subject.cbe, subject.ssin) == (
        kind,
        nihii,
        cbe,
        None,
    )
    assert main(["certs", "show", "--json", "--data-dir", str(data_dir)]) == 0
    roles = [row["role"] for row in json.loads(capsys.readouterr().out)]
    assert f"organisation {kind}" in roles and "eid-ca" in roles


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--type", "hospital", "--cbe", "0820563481"], "identified by --nihii"),
        (["--type", "hospital", "--nihii", "7102221"], "8 digits"),
        (["--type", "bakery", "--nihii", "71022212"], "invalid choice"),
    ],
)
def test_organisation_errors_are_one_line(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    common = ["--out", str(tmp_path / "o.p12"), "--password", "pw", "--data-dir", str(data_dir)]
    try:
        code = main(["certs", "organisation", *argv, *common])
    except SystemExit as exit_:  # argparse's own usage errors
        code = int(exit_.code or 0)
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_eid_keystore_chains_to_the_eid_ca(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eid.p12"
    argv = ["certs", "eid", "--ssin", SSIN, "--given-name", "Jan", "--surname", "Peeters"]
    assert main([*argv, "--out", str(out), "--password", "pw", "--data-dir", str(data_dir)]) == 0
    printed = capsys.readouterr().out
    assert "eid-ca.pem" in printed and "CN=Jan Peeters (Authentication)" in printed
    identity = load_keystore(out, "pw")
    subject = parse_subject(identity.cert)
    assert (subject.ssin, subject.given_name, subject.surname) == (SSIN, "Jan", "Peeters")
    assert chains_to(identity.cert, TestPki.load_or_create(data_dir).eid_ca.cert)
    assert (
        main(["certs", "inspect", str(out), "--password", "pw", "--data-dir", str(data_dir)]) == 0
    )
    assert ": yes" in capsys.readouterr().out
    bad = ["certs", "eid", "--ssin", "85073003329", "--given-name", "J", "--surname", "P"]
    assert main([*bad, "--out", str(out), "--password", "pw", "--data-dir", str(data_dir)]) == 2
    assert "check digits" in capsys.readouterr().err
