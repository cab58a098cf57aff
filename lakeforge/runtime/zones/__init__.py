"""Zone logic shared by both engines: Raw, Bronze, Silver (with DQ) and Gold."""
