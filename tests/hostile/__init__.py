"""A corpus of hostile requests over every gateway, each asserting a clean refusal and nothing left behind."""
