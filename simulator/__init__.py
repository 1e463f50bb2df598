"""mycarenet-sim: a local stand-in for the insurer side of Belgian MyCareNet services."""

__version__ = "0.1.0"
