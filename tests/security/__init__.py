"""The security battery: checks to point at any served carboy app (see battery.py)."""
