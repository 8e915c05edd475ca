"""The local twin: the real handlers on moto, behind an HTTP server and an emulated stream event source."""
