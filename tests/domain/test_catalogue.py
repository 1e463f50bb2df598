"""The error catalogues: our data files match the official ones, and lookups pick the best entry."""

import json
import runpy
from pathlib import Path

import pytest

from simulator.domain.catalogue import NAMES, ErrorCatalogue, rule_error

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "tools" / "import_catalogues.py"
DATA = REPO / "simulator" / "domain" / "data"
ETAR_CLAIM = "/RetrieveTransactionRequest/select/transaction[tariff]/item[claim]"


def test_shipped_data_is_what_the_tool_produces(shared_reference: Path, tmp_path: Path) -> None:
    tool = runpy.run_path(str(TOOL))
    counts = tool["convert"](shared_reference, tmp_path)
    assert set(counts) == set(NAMES)
    for name in NAMES:
        produced = (tmp_path / f"errors-{name}.json").read_bytes()
        assert produced == (DATA / f"errors-{name}.json").read_bytes(), name


def test_etar_catalogue_matches_the_official_file(shared_reference: Path) -> None:
    official = json.loads((shared_reference / "errors" / "ConsultTarifErrors.json").read_text())
    ours = ErrorCatalogue.load("etar").entries
    assert len(ours) == len(official) == 82
    for entry, raw in zip(ours, official, strict=True):
        assert (entry.code, entry.path, entry.fr, entry.nl) == (
            raw["code"],
            raw["path"],
            raw["msgFr"].strip(),
            raw["msgNl"].strip(),
        )


def test_every_catalogue_loads() -> None:
    sizes = {name: len(ErrorCatalogue.load(name).entries) for name in NAMES}
    assert sizes == {
        "etar": 82,
        "etar-mediprima": 74,
        "eattest": 158,
        "efact": 1977,  # the official 1976 + 500415 (tools/import_catalogues.py SUPPLEMENTS)
        "genins": 34,
        "memberdata": 64,
    }
    assert ErrorCatalogue.load("efact").entry("100101").fr == "Type d'enregistrement non numérique"
    assert ErrorCatalogue.load("memberdata").entry("CROSSCHECK_ISSUER").path


def test_entry_prefers_same_code_and_path() -> None:
    etar = ErrorCatalogue.load("etar")
    by_path = etar.entry("111", "/RetrieveTransactionRequest/select/patient/id")
    assert "NISS" in by_path.fr
    assert etar.entry("111").path == "/RetrieveTransactionRequest/Request/id"  # first with code
    assert etar.entry("111", "/no/such/path") == etar.entry("111")
    # same code and path twice (claim code absent / tooth): the first one in catalogue order
    assert etar.entry("100", ETAR_CLAIM).fr == "Code nomenclature absent"


def test_unknown_code_and_catalogue_raise() -> None:
    with pytest.raises(KeyError, match="999"):
        ErrorCatalogue.load("etar").entry("999")
    with pytest.raises(KeyError, match="nope"):
        ErrorCatalogue.load("nope")


def test_codes_are_distinct_in_order() -> None:
    codes = ErrorCatalogue.load("etar").codes()
    assert codes[:3] == ("100", "111", "155")
    assert len(codes) == len(set(codes)) == 39


def test_rule_error_carries_both_languages_and_the_path() -> None:
    path = "/RetrieveTransactionRequest/select/patient/id"
    error = rule_error("etar", "120", path)
    assert (error.code, error.path) == ("120", path)
    assert error.message_fr.startswith("Le NISS du patient n'est pas connu")
    assert error.message_nl
    assert rule_error("etar", "174").path.endswith("item[gmdmanager]/content/hcparty/id")
