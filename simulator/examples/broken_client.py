"""A deliberately broken vendor client: the reference client with one fault switched on.

    mycarenet-sim conformance run --suite eattest -- mycarenet-sim example broken-client \
        resend-refused

Each fault breaks one rule of the reference client (`reference_client.py` beside this file) and
must be caught by the case meant to catch it (FAULTS names it), and only by it.
"""

from __future__ import annotations

import sys
from dataclasses import replace

from simulator.examples.reference_client import Behaviour, main

# fault -> (what the software does wrong, the behaviour that does it, the case that catches it)
FAULTS: dict[str, tuple[str, Behaviour, str]] = {
    "no-insurability-check": (
        "sends an eAttest without consulting MemberData first",
        replace(Behaviour(), check_insurability_first=False),
        "eattest/ATT-6",
    ),
    "resend-refused": (
        "sends a refused attestation again as it was",
        replace(Behaviour(), resend_refused=True),
        "eattest/ATT-3",
    ),
    "resend-late-cancellation": (
        "sends a cancellation refused as too late (239) again as it was",
        replace(Behaviour(), resend_refused_cancellation=frozenset({"239"})),
        "eattest/ATT-8-LATE",
    ),
    "bad-signature": (
        "signs urgent-medical-aid attestations with another key than its certificate's",
        replace(Behaviour(), sign_correctly=False),
        "mediprima/MP-5",
    ),
    "unsealed-memberdata": (
        "sends MemberData requests in clear instead of sealed for the insurer",
        replace(Behaviour(), seal_memberdata=False),
        "memberdata/MDA-1",
    ),
    "no-confirm": (
        "never confirms the messages it takes from GenAsync",
        replace(Behaviour(), confirm_after_get=False),
        "efact/FAC-1",
    ),
    "two-files-a-day": (
        "posts a second eFact file the same day",
        replace(Behaviour(), one_efact_file_a_day=False),
        "efact/FAC-2",
    ),
    "no-correction": (
        "sends no corrected file after a 920099 for an unknown third party (B101420)",
        replace(Behaviour(), uncorrected_refusals=frozenset({"101420"})),
        "efact/FAC-3",
    ),
    "same-sending-number": (
        "resends a refused file under the same sending number",
        replace(Behaviour(), new_sending_number=False),
        "efact/FAC-2-REUSED",
    ),
    "resend-accepted": (
        "posts an accepted file again when a service of it is refused for its amount (R501940)",
        replace(Behaviour(), resend_after_rejection=frozenset({"501940"})),
        "efact/FAC-4",
    ),
    "rebill-duplicate": (
        "bills again at once a consultation refused as a duplicate (R502255)",
        replace(Behaviour(), resend_after_rejection=frozenset({"502255"})),
        "efact/FAC-7-DUPLICATE",
    ),
    "bills-old-services": (
        "bills services older than two months (the insurer pays them, flagged E500503, but "
        "the provider owes an administrative fine: S-FAQ-INAMI, docs/rules.md eFact)",
        replace(Behaviour(), hold_old_services=False),
        "efact/FAC-OLD",
    ),
}


def describe_faults() -> str:
    return "\n".join(
        f"  {name:<26} {what} (caught by {case})" for name, (what, _, case) in FAULTS.items()
    )


def run_fault(name: str) -> int:
    """Run the reference client with fault `name` on; 2 with the list for an unknown one."""
    fault = FAULTS.get(name)
    if fault is None:
        print(f"error: unknown fault {name!r}; faults:\n{describe_faults()}", file=sys.stderr)
        return 2
    return main(fault[1])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(f"usage: broken_client FAULT\nfaults:\n{describe_faults()}", file=sys.stderr)
        sys.exit(2)
    sys.exit(run_fault(sys.argv[1]))
