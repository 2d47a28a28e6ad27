"""Training a keyword's head over the speech embedding (kws.embedding): the shared cache of
negative embeddings, the positive windows of one word, the small network and its fit, and
the choice between running it alone or behind the detector (``python -m kws.train.head``)."""
