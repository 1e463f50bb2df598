"""The OpenAPI 3.0 document of the admin API and /metrics, served at /__admin/openapi.json.

Written by hand next to the routes it describes; tests/admin checks the server against it
(schemathesis) and checks it against the OpenAPI specification itself.
"""

from __future__ import annotations

from typing import Any

from simulator import __version__

# The syntax the admin API reads for an instant (checked again by Python's ISO parser).
INSTANT_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?([Zz]|[+-][0-9]{2}:[0-9]{2})?)?$"
)
_INSTANT_TEXT = (
    "ISO 8601 date-time such as `2025-11-03T09:30:00+01:00` or `2025-11-03T08:30:00Z`; "
    "without an offset it is Brussels local time."
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _json_body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


_STRING = {"type": "string"}
_UNAUTHORIZED = {
    "description": "The server is not bound to loopback and the bearer token is missing or wrong.",
    "headers": {
        "WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Bearer realm=...`"}
    },
    "content": {"application/json": {"schema": _ref("Error")}},
}
_FORBIDDEN = (
    "Server bound to loopback: the Host header does not name this server (DNS rebinding), "
    "or the Origin is another web page's."
)
# Calls that change state refuse what a browser sends cross-site without a preflight.
_SIMPLE_TYPES_REFUSED = (
    "Content-Type text/plain or a form encoding, which a web page could send cross-site"
)
_PAGE = {
    "limit": _query(
        "limit",
        {"type": "integer", "minimum": 0, "default": 100},
        "How many items; values above 1000 are read as 1000.",
    ),
    "offset": _query(
        "offset", {"type": "integer", "minimum": 0, "default": 0}, "How many items to skip."
    ),
}


def _operation(
    summary: str,
    ok: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    guarded: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": ok}
    for status, description in (errors or {}).items():
        responses[status] = _error(description)
    if guarded:
        responses["401"] = _UNAUTHORIZED
        responses["403"] = _error(_FORBIDDEN)
    operation: dict[str, Any] = {"summary": summary, **extra, "responses": responses}
    if not guarded:
        operation["security"] = []
    return operation


def _created(operation: dict[str, Any]) -> dict[str, Any]:
    """`operation` whose success is 201 Created rather than 200."""
    responses = operation["responses"]
    operation["responses"] = {"201": responses.pop("200"), **responses}
    return operation


_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {"type": "string", "description": "What is wrong, in words."},
            "problems": {
                "type": "array",
                "description": "For a refused scenario file: every problem, by line.",
                "items": _ref("Problem"),
            },
        },
    },
    "Problem": {
        "type": "object",
        "required": ["line", "message"],
        "additionalProperties": False,
        "properties": {"line": {"type": "integer", "minimum": 1}, "message": _STRING},
    },
    "Health": {
        "type": "object",
        "required": ["status", "version", "clock", "security_mode", "seed", "endpoints"],
        "properties": {
            "status": {"type": "string", "enum": ["ok"]},
            "version": _STRING,
            "clock": {**_STRING, "description": "The simulated instant (ISO 8601, UTC)."},
            "security_mode": {"type": "string", "enum": ["strict", "lenient", "off"]},
            "seed": {"type": "integer"},
            "endpoints": {"type": "array", "items": _STRING},
            "pid": {
                "type": "integer",
                "description": "The process that answered (serve --workers N).",
            },
            "store": {
                "type": "string",
                "enum": ["sqlite", "postgresql"],
                "description": "Where the state lives; postgresql: shared by every worker.",
            },
        },
    },
    "Clock": {
        "type": "object",
        "required": ["now", "today", "frozen"],
        "additionalProperties": False,
        "properties": {
            "now": {"type": "string", "format": "date-time", "description": "UTC."},
            "today": {
                "type": "string",
                "format": "date",
                "description": "The simulated date in Brussels, the date every rule uses.",
            },
            "frozen": {"type": "boolean"},
        },
    },
    "ClockChange": {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": {
            "at": {
                "type": "string",
                "pattern": INSTANT_PATTERN,
                "description": f"Jump to this instant (1970..2999). {_INSTANT_TEXT}",
                "example": "2025-11-03T09:30:00+01:00",
            },
            "frozen": {
                "type": "boolean",
                "description": "true: stop the clock (at `at`, else now); false: run on from "
                "the current simulated instant. Absent: keep the frozen/running state.",
            },
        },
    },
    "ClockAdvance": {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "description": "Both may be given (they add up); negative values go back in time.",
        "properties": {"seconds": {"type": "number"}, "days": {"type": "number"}},
    },
    "ActiveScenario": {
        "type": "object",
        "required": ["name", "description", "rules"],
        "additionalProperties": False,
        "properties": {
            "name": _STRING,
            "description": _STRING,
            "rules": {"type": "array", "items": _ref("RuleState")},
        },
    },
    "RuleState": {
        "type": "object",
        "required": ["id", "description", "action", "matched", "fired"],
        "additionalProperties": False,
        "properties": {
            "id": _STRING,
            "description": _STRING,
            "action": {**_STRING, "description": "The action's `type`, e.g. reject."},
            "matched": {
                "type": "integer",
                "minimum": 0,
                "description": "Calls that met the rule's criteria within its limits.",
            },
            "fired": {"type": "integer", "minimum": 0, "description": "Times the rule acted."},
        },
    },
    "ShippedScenario": {
        "type": "object",
        "required": ["name", "description", "rules"],
        "additionalProperties": False,
        "properties": {
            "name": _STRING,
            "description": _STRING,
            "rules": {"type": "integer", "minimum": 0, "description": "How many rules."},
        },
    },
    "Scenarios": {
        "type": "object",
        "required": ["active", "shipped"],
        "additionalProperties": False,
        "properties": {
            "active": _ref("ActiveScenario"),
            "shipped": {"type": "array", "items": _ref("ShippedScenario")},
        },
    },
    "Reset": {
        "type": "object",
        "required": ["reset"],
        "additionalProperties": False,
        "properties": {
            "reset": {
                "type": "array",
                "items": {"type": "string", "enum": ["journal", "records", "scenario", "clock"]},
            }
        },
    },
    "JournalEntry": {
        "type": "object",
        "required": [
            "id",
            "at",
            "service",
            "operation",
            "path",
            "outcome",
            "http_status",
            "duration_ms",
            "soap_action",
            "code",
            "provider_nihii",
            "patient_ssin",
            "security",
            "stages",
            "request",
            "response",
            "request_content",
            "response_content",
            "reference",
        ],
        "properties": {
            "id": {"type": "integer"},
            "at": {**_STRING, "description": "Simulated instant the request came (UTC)."},
            "service": _STRING,
            "operation": _STRING,
            "path": _STRING,
            "outcome": {"type": "string", "enum": ["ok", "business-error", "fault"]},
            "http_status": {"type": "integer"},
            "duration_ms": {"type": "number"},
            "soap_action": _nullable(_STRING),
            "code": _nullable({**_STRING, "description": "Business error or SOAP fault code."}),
            "provider_nihii": _nullable(_STRING),
            "patient_ssin": _nullable(_STRING),
            "security": {"type": "object", "description": "Verdict, mode, reason, caller."},
            "stages": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "ms", "note"],
                    "properties": {"name": _STRING, "ms": {"type": "number"}, "note": _STRING},
                },
            },
            "request": {**_STRING, "description": "Empty with bodies=false."},
            "response": {**_STRING, "description": "Empty with bodies=false."},
            "request_content": {
                **_STRING,
                "description": "The business content of the request's Detail in clear "
                "(unsealed when it was sealed); empty with bodies=false or without a Detail.",
            },
            "response_content": {
                **_STRING,
                "description": "The answer's business content as the simulator wrote it, "
                "before sealing it for the requester; empty with bodies=false.",
            },
            "reference": _nullable(
                {**_STRING, "description": "The request's InputReference, else its MessageID."}
            ),
        },
    },
    "Journal": {
        "type": "object",
        "required": ["count", "total", "offset", "limit", "order", "next", "prev", "entries"],
        "additionalProperties": False,
        "properties": {
            "count": {"type": "integer", "minimum": 0, "description": "Entries on this page."},
            "total": {"type": "integer", "minimum": 0, "description": "Entries that match."},
            "offset": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer", "minimum": 0},
            "order": {"type": "string", "enum": ["oldest", "newest"]},
            "next": _nullable({**_STRING, "description": "The next page (same filters)."}),
            "prev": _nullable({**_STRING, "description": "The previous page."}),
            "entries": {"type": "array", "items": _ref("JournalEntry")},
        },
    },
    "PatientSummary": {
        "type": "object",
        "required": [
            "ssin",
            "name",
            "first_name",
            "last_name",
            "sex",
            "situation",
            "birth_date",
            "insurer",
            "insured_today",
            "ct1_ct2",
            "bim",
            "dmg_holder",
            "medical_house",
            "deceased",
        ],
        "additionalProperties": False,
        "properties": {
            "ssin": _STRING,
            "name": _STRING,
            "first_name": _STRING,
            "last_name": _STRING,
            "sex": {"type": "string", "enum": ["male", "female"]},
            "situation": _STRING,
            "birth_date": {"type": "string", "format": "date"},
            "insurer": _STRING,
            "insured_today": {"type": "boolean"},
            "ct1_ct2": _nullable(_STRING),
            "bim": {"type": "boolean"},
            "dmg_holder": _nullable(_STRING),
            "medical_house": {"type": "boolean"},
            "deceased": {"type": "boolean"},
        },
    },
    "ProviderSummary": {
        "type": "object",
        "required": ["nihii", "ssin", "name", "kind"],
        "additionalProperties": False,
        "properties": {"nihii": _STRING, "ssin": _STRING, "name": _STRING, "kind": _STRING},
    },
    "KeystoreRequest": {
        "type": "object",
        "required": ["password"],
        "additionalProperties": False,
        "description": "Name the provider by `nihii` (with `ssin` when it is not in the "
        "population), or pick one from the population by `kind` and `index`.",
        "properties": {
            "nihii": {"type": "string", "pattern": "^[0-9]{11}$"},
            "ssin": {"type": "string", "pattern": "^[0-9]{11}$"},
            "name": {"type": "string", "minLength": 1, "maxLength": 64},
            "kind": {
                "type": "string",
                "minLength": 1,
                "maxLength": 64,
                "description": "GP, SPECIALIST, DENTIST or PHYSIOTHERAPIST.",
                "example": "GP",
            },
            "index": {
                "type": "integer",
                "minimum": 0,
                "maximum": 1000000,
                "default": 0,
                "description": "Which provider of `kind`, from 0.",
            },
            "password": {"type": "string", "minLength": 1, "maxLength": 128},
            "key_type": {"type": "string", "enum": ["rsa", "ec"], "default": "rsa"},
        },
    },
    "Keystore": {
        "type": "object",
        "required": ["nihii", "ssin", "name", "subject", "password", "pkcs12_base64", "ca_pem"],
        "additionalProperties": False,
        "properties": {
            "nihii": _STRING,
            "ssin": _STRING,
            "name": _nullable(_STRING),
            "subject": {**_STRING, "description": "The certificate subject (RFC 4514)."},
            "password": _STRING,
            "pkcs12_base64": {
                **_STRING,
                "description": "The PKCS#12 keystore (key and certificate under the alias "
                "`authentication`, CA as chain), base64.",
            },
            "ca_pem": {**_STRING, "description": "The test CA to trust (PEM)."},
        },
    },
    "Population": {
        "type": "object",
        "required": ["seed", "total_patients", "patients", "providers"],
        "additionalProperties": False,
        "properties": {
            "seed": {"type": "integer"},
            "date": {"type": "string", "format": "date", "description": "The business date."},
            "total_patients": {"type": "integer", "minimum": 0},
            "total_providers": {"type": "integer", "minimum": 0},
            "patients": {"type": "array", "items": _ref("PatientSummary")},
            "providers": {"type": "array", "items": _ref("ProviderSummary")},
        },
    },
}

_JOURNAL_FILTERS = [
    _query("service", _STRING, "Service name, e.g. etar, eattest, genasync."),
    _query("operation", _STRING, "Operation name, e.g. TarificationConsultation."),
    _query("outcome", {"type": "string", "enum": ["ok", "business-error", "fault"]}, "Outcome."),
    _query("provider", _STRING, "NIHII of the provider."),
    _query("patient", _STRING, "SSIN (NISS) of the patient."),
    _query("code", _STRING, "Business error or SOAP fault code, e.g. 196 or SOA-03007."),
    _query("reference", _STRING, "Part of the request's InputReference (or MessageID)."),
    _query("since", {"type": "string", "pattern": INSTANT_PATTERN}, f"Inclusive. {_INSTANT_TEXT}"),
    _query("until", {"type": "string", "pattern": INSTANT_PATTERN}, f"Exclusive. {_INSTANT_TEXT}"),
]
# The filters of a page of the journal, and how it is ordered and cut.
_JOURNAL_PARAMETERS = [
    *_JOURNAL_FILTERS,
    _query(
        "order",
        {"type": "string", "enum": ["oldest", "newest"], "default": "oldest"},
        "oldest first (the default, as scripts page through it) or newest first.",
    ),
    _PAGE["limit"],
    _PAGE["offset"],
    _query(
        "bodies",
        {"type": "string", "enum": ["true", "false"], "default": "true"},
        "false leaves out the request and response bodies.",
    ),
]

# The outline of a scenario file; the loader checks the rest (and reports it by line).
_SCENARIO_FILE = {
    "type": "object",
    "additionalProperties": False,
    "description": "A scenario file: see `mycarenet-sim scenario check` and scenarios/*.yaml.",
    "properties": {
        "name": {"description": "Defaults to `uploaded`."},
        "description": {},
        "latency": {"type": "object"},
        "rules": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "action"],
                "additionalProperties": False,
                "properties": {
                    "id": {},
                    "description": {},
                    "match": {"type": "object"},
                    "action": {"type": "object", "required": ["type"]},
                    "limit": {"type": "object"},
                },
            },
        },
    },
}
_SCENARIO_UPLOAD = {
    "description": "A scenario file (YAML), or the name of a shipped scenario.",
    "required": True,
    "content": {
        "application/yaml": {"schema": _SCENARIO_FILE},
        "text/yaml": {"schema": _SCENARIO_FILE},
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["shipped"],
                "additionalProperties": False,
                "properties": {"shipped": {**_STRING, "description": "e.g. default, chaos."}},
            }
        },
    },
}

_PATHS: dict[str, Any] = {
    "/__admin/health": {
        "get": _operation(
            "Liveness, version, simulated clock.",
            _json(_ref("Health"), "The simulator is up."),
            guarded=False,
        )
    },
    "/__admin/openapi.json": {
        "get": _operation("This document.", _json({"type": "object"}, "The OpenAPI document."))
    },
    "/__admin/journal": {
        "get": _operation(
            "Exchanges as the simulator saw them, filtered, oldest or newest first, with "
            "the total and links to the next and previous pages.",
            _json(_ref("Journal"), "The matching entries."),
            errors={"400": "A filter has a bad value or an unknown name."},
            parameters=_JOURNAL_PARAMETERS,
        ),
        "delete": _operation(
            "Forget the journal only (records, scenario and clock stay).",
            _json(_ref("Reset"), "What was reset: the journal."),
            errors={"400": "A query parameter was given (none is taken)."},
        ),
    },
    "/__admin/population": {
        "get": _operation(
            "The synthetic patients (paged) and providers.",
            _json(_ref("Population"), "A page of the population."),
            errors={"400": "limit/offset is not a non-negative integer, or unknown parameter."},
            parameters=[_PAGE["limit"], _PAGE["offset"]],
        )
    },
    "/__admin/clock": {
        "get": _operation("The simulator clock.", _json(_ref("Clock"), "The clock.")),
        "put": _operation(
            "Set, freeze or unfreeze the clock.",
            _json(_ref("Clock"), "The clock after the change."),
            errors={
                "400": "Not a JSON object of at/frozen, or a bad value; nothing changed.",
                "415": f"The body is not application/json ({_SIMPLE_TYPES_REFUSED}).",
            },
            requestBody=_json_body(_ref("ClockChange")),
        ),
    },
    "/__admin/clock/advance": {
        "post": _operation(
            "Move the clock forward (or back).",
            _json(_ref("Clock"), "The clock after the move."),
            errors={
                "400": "Not a JSON object of seconds/days, or out of range; nothing moved.",
                "415": f"The body is not application/json ({_SIMPLE_TYPES_REFUSED}).",
            },
            requestBody=_json_body(_ref("ClockAdvance")),
        )
    },
    "/__admin/scenarios": {
        "get": _operation(
            "The running scenario with its rule counters, and the shipped scenarios.",
            _json(_ref("Scenarios"), "Scenarios."),
        )
    },
    "/__admin/scenario": {
        "put": _operation(
            "Replace the running scenario.",
            _json(_ref("ActiveScenario"), "The new running scenario, counters at zero."),
            errors={
                "400": "The file was refused (`problems` by line) or no such shipped "
                "scenario; the running scenario is unchanged.",
                "415": "Content-Type is neither YAML nor JSON (text/plain is refused: "
                "a web page could send it cross-site).",
            },
            requestBody=_SCENARIO_UPLOAD,
        )
    },
    "/__admin/scenario/restart": {
        "post": _operation(
            "Run the running scenario again from its start (counters, time windows).",
            _json(_ref("ActiveScenario"), "The running scenario, counters at zero."),
            errors={"415": f"{_SIMPLE_TYPES_REFUSED}; send no body."},
        )
    },
    "/__admin/reset": {
        "post": _operation(
            "Forget the journal and stored records; restart the scenario.",
            _json(_ref("Reset"), "What was reset."),
            errors={
                "400": "The body is not a JSON object with an optional boolean `clock`.",
                "415": f"A body that is not application/json ({_SIMPLE_TYPES_REFUSED}).",
            },
            requestBody=_json_body(
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "clock": {
                            "type": "boolean",
                            "description": "Also put the clock back to real time.",
                        }
                    },
                },
                required=False,
            ),
        )
    },
    "/__admin/keystores": {
        "post": _created(
            _operation(
                "Issue a care provider's keystore from the test PKI (an earlier keystore of "
                "the same NIHII keeps working; the ETK depot serves the newest).",
                _json(_ref("Keystore"), "The keystore, its password and the CA to trust."),
                errors={
                    "400": "Not a JSON object of the documented keys, or a bad value.",
                    "404": "No such kind in the population, index beyond its providers of "
                    "that kind, or a NIHII outside the population given without its ssin.",
                    "415": f"The body is not application/json ({_SIMPLE_TYPES_REFUSED}).",
                },
                requestBody=_json_body(_ref("KeystoreRequest")),
            )
        )
    },
    "/metrics": {
        "get": _operation(
            "Prometheus metrics: requests, outcomes, latency per operation; scenario rules.",
            {
                "description": "Prometheus text exposition format 0.0.4.",
                "content": {"text/plain": {"schema": _STRING}},
            },
            guarded=False,
        )
    },
}

# The QA workbench's routes: one journal entry, its decoded view, the live stream, the
# population finder, conformance runs and reports, the page itself (server/openapi_qa.py).
from simulator.server.openapi_qa import qa_paths, qa_schemas  # noqa: E402

_SCHEMAS.update(qa_schemas())
_PATHS.update(qa_paths(_JOURNAL_FILTERS))

DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "mycarenet-sim admin API",
        "version": __version__,
        "description": "Control and observe the MyCareNet simulator. On a server bound to "
        "loopback no credentials are needed, but the Host must name the server and an Origin "
        "must be its own (403 otherwise: no web page may drive it); bound elsewhere, every "
        "route but health and /metrics wants `Authorization: Bearer <token>` (--admin-token, "
        "or the token `serve` prints). Calls that change state refuse text/plain and form "
        "bodies (415).",
    },
    "paths": _PATHS,
    "components": {
        "schemas": _SCHEMAS,
        "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
    },
    # Either no credentials (loopback) or the bearer token.
    "security": [{}, {"adminToken": []}],
}
