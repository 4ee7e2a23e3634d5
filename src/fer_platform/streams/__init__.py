"""Faces across a stream of frames, shared by `fer-edge` and the service's live page (serving.live): where to
look for faces in the next frame (face_search) and which face is which, with each face's probabilities
smoothed over its own last answers (face_tracks). OpenCV and numpy only, so both runtimes can import it."""
