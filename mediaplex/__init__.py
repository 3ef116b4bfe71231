"""The composition root: the CLI and the wiring of core, store, processors and gateways."""
