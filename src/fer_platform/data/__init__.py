"""FER2013 readers (image-folder release, challenge CSV) -> one canonical dataset."""
