"""Extractors land source data in Raw; see :mod:`lakeforge.runtime.extractors.base`."""
