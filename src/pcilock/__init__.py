"""pcilock: an executable model of Linux PCI-core locking and a checker that
explores every interleaving of concurrent PCI lifecycle operations."""

__version__ = "0.1.0"
