"""cliquet: Signal-style end-to-end encryption (PQXDH, Double Ratchet,
safety numbers, sender-key groups), a thin layer over the Rust crate.

Bytes in and out are ``bytes``; identity keys are their 32 bytes. Errors
are ``CliquetError`` subclasses named after the SPEC §8 names (``.name``,
``.detail``)."""

from ._cliquet import *  # noqa: F401,F403
