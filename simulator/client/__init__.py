"""A connector-like client for the simulator (and the example vendors can read)."""

from simulator.client.connector import ConnectorClient, Reply, ServiceFault

__all__ = ["ConnectorClient", "Reply", "ServiceFault"]
