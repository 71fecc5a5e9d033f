"""Builders and loopback fakes shipped with the package, usable by users' own tests too."""
