"""The bundled demo: a small retail system, its metadata, and the script that runs it end to end."""
