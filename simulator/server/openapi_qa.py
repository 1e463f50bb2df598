"""The OpenAPI description of the QA workbench's routes (server/admin_journal.py,
admin_world.py, admin_scenario_check.py, admin_conformance.py, admin_ui.py), merged into
the document of server/openapi.py."""

from __future__ import annotations

from typing import Any


def qa_schemas() -> dict[str, Any]:
    from simulator.server.openapi import _STRING, _nullable, _ref

    def obj(required: list[str], **properties: Any) -> dict[str, Any]:
        return {"type": "object", "required": required, "properties": properties}

    return {
        "DecodedEntry": obj(
            [
                "id",
                "summary",
                "request_xml",
                "response_xml",
                "request_content",
                "response_content",
                "blobs",
                "efact",
                "security",
                "stages",
                "scenario",
                "curl",
            ],
            id={"type": "integer"},
            summary={"type": "object"},
            request_xml={**_STRING, "description": "The request envelope, indented."},
            response_xml={**_STRING, "description": "The answer envelope, indented."},
            request_content=_nullable(_ref("ClearContent")),
            response_content=_nullable(_ref("ClearContent")),
            blobs={
                "type": "array",
                "items": {"type": "object"},
                "description": "Every Detail (and blob with a ContentEncoding) decoded.",
            },
            efact={
                "type": "array",
                "items": {"type": "object"},
                "description": "eFact files as records and zones, errors on their zone.",
            },
            security={"type": "object"},
            stages={"type": "array", "items": {"type": "object"}},
            scenario=_nullable({**_STRING, "description": "The scenario stage's note."}),
            curl={**_STRING, "description": "The request as a curl command (a replay)."},
        ),
        "ClearContent": obj(
            ["kind", "text", "codes"],
            kind={"type": "string", "enum": ["xml", "text"]},
            text=_STRING,
            codes={
                "type": "array",
                "items": _STRING,
                "description": "Business codes found in it (KMEHR CD-ERROR, SAML status).",
            },
        ),
        "FoundPatients": obj(
            ["date", "total", "patients", "choices"],
            date={"type": "string", "format": "date"},
            total={"type": "integer", "minimum": 0},
            patients={"type": "array", "items": {"type": "object"}},
            choices={"type": "object"},
        ),
        "ScenarioCheck": obj(
            ["valid", "name", "rules"],
            valid={"type": "boolean"},
            name=_STRING,
            rules={"type": "integer", "minimum": 0},
        ),
        "ConformanceRun": obj(
            ["id", "suite", "case", "fault", "started", "state", "exit_code", "progress"],
            id=_STRING,
            suite=_STRING,
            case=_nullable(_STRING),
            fault=_nullable(_STRING),
            started=_STRING,
            state={"type": "string", "enum": ["running", "passed", "failed", "error"]},
            exit_code=_nullable({"type": "integer"}),
            progress={"type": "array", "items": _STRING},
        ),
        "Conformance": obj(
            ["suites", "faults", "runs", "reports"],
            suites={"type": "array", "items": {"type": "object"}},
            faults={"type": "object"},
            runs={"type": "array", "items": _ref("ConformanceRun")},
            reports={"type": "array", "items": {"type": "object"}},
        ),
    }


def qa_paths(journal_filters: list[dict[str, Any]]) -> dict[str, Any]:
    from simulator.server.openapi import (
        _SCENARIO_FILE,
        _SIMPLE_TYPES_REFUSED,
        _STRING,
        _error,
        _json,
        _json_body,
        _operation,
        _query,
        _ref,
    )

    def path_parameter(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {
            "name": name,
            "in": "path",
            "required": True,
            "schema": schema,
            "description": description,
        }

    entry_id = path_parameter("id", {"type": "integer", "minimum": 1}, "Journal id.")
    run_id = path_parameter("id", {"type": "string", "pattern": "^[A-Za-z0-9._-]+$"}, "Run id.")
    html = {"content": {"text/html": {"schema": _STRING}}}
    missing_entry = {
        "400": "The id is not a positive integer, or a query parameter was given.",
        "404": "No such entry (never written, reset, or trimmed by retention).",
    }
    stream = _operation(
        "New journal entries as they are written (server-sent events `entry`, JSON without "
        "bodies, `id:` the journal id; an EventSource resumes with Last-Event-ID).",
        {"description": "An event stream.", "content": {"text/event-stream": {"schema": _STRING}}},
        errors={"400": "A filter has a bad value or an unknown name."},
        parameters=[
            *journal_filters,
            _query(
                "after",
                {"type": "string", "pattern": "^[0-9]{1,18}$"},
                "Start after this journal id (default: the newest now).",
            ),
            _query(
                "seconds",
                {"type": "integer", "minimum": 0, "default": 3600},
                "How long to stream before closing (at most 3600).",
            ),
        ],
    )
    page = _operation(
        "The QA workbench page (HTML). Bound beyond loopback, `?token=` sets its cookie once.",
        {"description": "The page.", **html},
        parameters=[_query("token", _STRING, "The admin token, taken once for the cookie.")],
        guarded=False,
    )
    page["responses"]["303"] = {"description": "Token accepted: cookie set, see the page."}
    page["responses"]["401"] = {"description": "No token, or a wrong one: how to log in.", **html}
    page["responses"]["403"] = _error("Loopback-bound server called by another web page.")
    home = _operation(
        "Redirects to the QA workbench page.",
        {"description": "The page, after the redirect.", **html},
        guarded=False,
    )
    home["responses"]["302"] = {"description": "Where the page is: /__admin/ui."}
    home["responses"]["401"] = {"description": "The page wants the token first.", **html}
    home["responses"]["403"] = _error("Loopback-bound server called by another web page.")
    yaml_body = {"required": True, "content": {"application/yaml": {"schema": _SCENARIO_FILE}}}
    return {
        "/__admin/journal/stream": {"get": stream},
        "/__admin/journal/{id}": {
            "get": _operation(
                "One journal entry with its bodies and business content in clear.",
                _json(_ref("JournalEntry"), "The entry."),
                errors=missing_entry,
                parameters=[entry_id],
            )
        },
        "/__admin/journal/{id}/decoded": {
            "get": _operation(
                "One entry made readable: indented XML, blobs inflated, the business content "
                "in clear both ways, eFact records and zones, the request as curl.",
                _json(_ref("DecodedEntry"), "The decoded entry."),
                errors=missing_entry,
                parameters=[entry_id],
            )
        },
        "/__admin/population/find": {
            "get": _operation(
                "`world find`: patients matching every filter, on the business date.",
                _json(_ref("FoundPatients"), "The patients found (a page) and the choices."),
                errors={"400": "A filter has a bad value or an unknown name."},
                parameters=[
                    _query("situation", _STRING, "A situation of the population."),
                    _query("insurer", _STRING, "National union: 100, 200, ..."),
                    _query("mutuality", _STRING, "3-digit mutuality code."),
                    _query("dmg_holder", _STRING, "NIHII of the GP holding the DMG."),
                    _query("flags", _STRING, "Comma-separated flags that must hold."),
                    _query("without", _STRING, "Comma-separated flags that must not."),
                    _query("min_age", {"type": "integer", "minimum": 0}, "Age at least."),
                    _query("max_age", {"type": "integer", "minimum": 0}, "Age at most."),
                    _query("limit", {"type": "integer", "minimum": 0}, "At most 1000."),
                    _query("offset", {"type": "integer", "minimum": 0}, "Patients to skip."),
                ],
            )
        },
        "/__admin/population/{identifier}": {
            "get": _operation(
                "`world show`: a patient's periods, facets and decisions (or a provider).",
                _json({"type": "object"}, "{patient: ...} or {provider: ...}."),
                errors={"400": "Not 11 digits.", "404": "Nobody with this NISS or NIHII."},
                parameters=[path_parameter("identifier", _STRING, "A NISS or a NIHII.")],
            )
        },
        "/__admin/scenario/check": {
            "post": _operation(
                "Check a scenario file without running it.",
                _json(_ref("ScenarioCheck"), "The file is valid."),
                errors={
                    "400": "The file was refused (`problems` by line).",
                    "415": f"Not a YAML body ({_SIMPLE_TYPES_REFUSED} included).",
                },
                requestBody=yaml_body,
            )
        },
        "/__admin/conformance": {
            "get": _operation(
                "The shipped suites, the runs started here, the reports in the data dir.",
                _json(_ref("Conformance"), "Conformance."),
                errors={"400": "A query parameter was given (none is taken)."},
            )
        },
        "/__admin/conformance/runs": {
            "post": _operation(
                "Start `conformance run` for a shipped suite (or one case) with the example "
                "client (reference, or the broken one with `fault`), as a subprocess.",
                _json(_ref("ConformanceRun"), "The run, started."),
                errors={
                    "400": "No such suite, case or fault, or not a JSON object of them.",
                    "409": "A run is still going: one at a time.",
                    "415": f"The body is not application/json ({_SIMPLE_TYPES_REFUSED}).",
                },
                requestBody=_json_body(
                    {
                        "type": "object",
                        "required": ["suite"],
                        "additionalProperties": False,
                        "properties": {"suite": _STRING, "case": _STRING, "fault": _STRING},
                    }
                ),
            )
        },
        "/__admin/conformance/evaluations": {
            "post": _operation(
                "Judge a shipped suite's cases (or one) on this simulator's own journal, as "
                "`conformance evaluate --url` does; the report goes to the data dir.",
                _json(
                    {
                        "type": "object",
                        "required": ["id", "passed", "totals"],
                        "properties": {
                            "id": _STRING,
                            "passed": {"type": "boolean"},
                            "totals": {"type": "object"},
                        },
                    },
                    "The report written.",
                ),
                errors={
                    "400": "No such suite or case, or not a JSON object of them.",
                    "415": f"The body is not application/json ({_SIMPLE_TYPES_REFUSED}).",
                },
                requestBody=_json_body(
                    {
                        "type": "object",
                        "required": ["suite"],
                        "additionalProperties": False,
                        "properties": {"suite": _STRING, "case": _STRING},
                    }
                ),
            )
        },
        "/__admin/conformance/runs/{id}": {
            "get": _operation(
                "A run started here: its state and progress (the lines it printed).",
                _json(_ref("ConformanceRun"), "The run."),
                errors={"400": "A query parameter was given.", "404": "No such run."},
                parameters=[run_id],
            )
        },
        "/__admin/conformance/reports/{id}": {
            "get": _operation(
                "A report in the data dir (report.json): verdicts, checks, exchanges.",
                _json({"type": "object"}, "The report."),
                errors={"400": "A query parameter was given.", "404": "No such report."},
                parameters=[run_id],
            )
        },
        "/__admin/conformance/reports/{id}/html": {
            "get": _operation(
                "A report in the data dir as HTML (report.html).",
                {"description": "The HTML report.", **html},
                errors={"400": "A query parameter was given.", "404": "No such report."},
                parameters=[run_id],
            )
        },
        "/__admin/ui": {"get": page},
        "/__admin/ui/{name}": {
            "get": _operation(
                "A file of the page (HTML, CSS, JavaScript modules).",
                {
                    "description": "The file.",
                    "content": {
                        "text/css": {"schema": _STRING},
                        "text/javascript": {"schema": _STRING},
                        "text/html": {"schema": _STRING},
                        "image/svg+xml": {"schema": _STRING},
                    },
                },
                errors={"404": "No such file."},
                parameters=[path_parameter("name", _STRING, "e.g. app.js")],
            )
        },
        "/__admin/": {"get": home},
        "/__admin": {"get": home},
    }
