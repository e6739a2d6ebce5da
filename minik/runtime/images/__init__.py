"""Images: a content-addressed store, safe layer extraction, archive import, registry pull/push, lab images."""
