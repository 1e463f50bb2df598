"""The insurer's services: each module names its operations and stays thin."""

from __future__ import annotations

from simulator.services.registry import Operation


def catalogue_of_operations() -> list[Operation]:
    from simulator.services import etkdepot, memberdata, sts, tarification

    return [
        *sts.OPERATIONS,
        *etkdepot.OPERATIONS,
        *tarification.OPERATIONS,
        *memberdata.OPERATIONS,
    ]
