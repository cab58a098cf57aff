"""The command layer: every change to LakeForge's metadata, from any surface, goes through here."""
