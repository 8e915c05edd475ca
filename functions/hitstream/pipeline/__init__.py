"""The three steps of a hit: ingest (one event write), aggregate (stream → counters), query (reads)."""
