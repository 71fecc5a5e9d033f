"""Vendor adapters: the only code that talks to a vendor (ib_async, vendor HTTP).

One package per vendor; each maps the vendor's objects to our domain types at its boundary.
"""
