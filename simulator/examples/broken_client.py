"""A deliberately broken vendor client: the reference client with one fault switched on.

    mycarenet-sim conformance run --suite eattest -- python examples/broken_client.py resend-refused

Each fault breaks one rule of examples/reference_client.py and must be caught by the case
meant to catch it (FAULTS names it), and only by it.
"""

from __future__ import annotations

import sys
from dataclasses import replace

from reference_client import Behaviour, main

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
    "ignores-old-path": (
        "asks a MediPrima tariff for a decision still on the old path (CPAS)",
        replace(Behaviour(), respect_old_path=False),
        "mediprima/MP-1",
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
        "bills services older than two months",
        replace(Behaviour(), hold_old_services=False),
        "efact/FAC-OLD",
    ),
}


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in FAULTS:
        print("usage: broken_client.py FAULT\nfaults:", file=sys.stderr)
        for name, (what, _, case) in FAULTS.items():
            print(f"  {name:<22} {what} (caught by {case})", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(FAULTS[sys.argv[1]][1]))
