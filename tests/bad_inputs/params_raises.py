"""A params file that raises when imported."""
raise RuntimeError("this params file is broken on purpose")
