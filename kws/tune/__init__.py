"""``kws tune``: pick each model's threshold on audio from the user's own room."""
