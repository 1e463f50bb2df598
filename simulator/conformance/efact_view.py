"""Zones of a posted 920000, read for the eFact expectations (segment 200/300 or a record)."""

from __future__ import annotations

from simulator.efact.parser import EfactFormatError, parse


def zone_values(content: bytes, record: str, zone: str) -> list[str]:
    """Every value of `zone` in records of type `record` ("200"/"300": the segments), stripped.

    An empty list when the file has no such record or cannot be read as a 920000.
    """
    try:
        header, records = parse(content)
        if record == "200":
            return [header.zone200(zone).strip()]
        if record == "300":
            return [header.zone300(zone).strip()]
        return [r.zone(zone).strip() for r in records if r.type == record]
    except (EfactFormatError, KeyError, ValueError):
        return []
