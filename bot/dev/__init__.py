"""A local Synapse and the demo: for trying Kring and for the tests, never for production."""
