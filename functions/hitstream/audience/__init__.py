"""Who is reading: bot detection, the anonymous daily visitor id, and the visit's dimensions."""
