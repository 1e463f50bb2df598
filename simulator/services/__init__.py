"""The insurer's services: each module names its operations and stays thin."""

from __future__ import annotations

from simulator.services.registry import Operation


def catalogue_of_operations() -> list[Operation]:
    from simulator.services import eattest, etkdepot, memberdata, sts, tarification

    return [
        *sts.OPERATIONS,
        *_samlp_sts_operations(),
        *etkdepot.OPERATIONS,
        *tarification.OPERATIONS,
        *memberdata.OPERATIONS,
        *eattest.OPERATIONS,
        *_mediprima_operations(),
        *_genasync_operations(),
    ]


def _samlp_sts_operations() -> list[Operation]:
    from simulator.services import samlp_sts

    return samlp_sts.OPERATIONS


def _genasync_operations() -> list[Operation]:
    from simulator.services import genasync

    return genasync.OPERATIONS


def _mediprima_operations() -> list[Operation]:
    from simulator.services import mediprima, tarification_mediprima, uma

    return [*mediprima.OPERATIONS, *uma.OPERATIONS, *tarification_mediprima.OPERATIONS]
