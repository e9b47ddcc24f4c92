"""The built-in `sim` venue: a deterministic matching simulator behind VenueAdapter."""

from opensqt_connector.sim.adapter import SimVenue
from opensqt_connector.sim.faults import FaultConfig, FaultSpecError, parse_faults
from opensqt_connector.sim.price_feed import RandomWalkConfig, ReplayConfig

__all__ = ["FaultConfig", "FaultSpecError", "RandomWalkConfig", "ReplayConfig", "SimVenue", "parse_faults"]
