"""Measures Mediaplex on the machine at hand; run as ``python -m bench`` (``make bench``).

Every figure is set next to a reference measured in the same run, because absolute times on a
shared machine drift from one minute to the next while ratios hold much better.
"""
