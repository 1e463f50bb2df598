"""Testing with the simulator from pytest: the `mycarenet_sim` fixture and its handle.

Installed as a pytest plugin (entry point `pytest11`), so a vendor's test suite only needs
`pip install mycarenet-sim`; see `simulator.testing.plugin` for the fixtures and options.
"""

from simulator.testing.handle import AdminCallError, Keystore, SimulatorHandle

__all__ = ["AdminCallError", "Keystore", "SimulatorHandle"]
