"""Moved into the package: simulator/loadtests/locustfile_efact.py (and the sync and
MediPrima suites beside it), installed with `pip install 'mycarenet-sim[load]'`.

This file stays so that `locust -f loadtests/locustfile_efact.py --host ...` keeps working;
`mycarenet-sim load efact --url ...` is the shorter way (see README, "Load tests").
"""

from simulator.loadtests.locustfile_efact import BillingOffice

__all__ = ["BillingOffice"]
