"""The data plane: extract → Raw → Bronze → Silver → Gold on the embedded or the Spark engine."""
