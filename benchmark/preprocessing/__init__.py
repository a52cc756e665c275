"""Preprocessing: every modality an entry needs, computed once per video and cached as ``.npy`` files.

One module per job: :mod:`.plan` (which modalities, in which order, with which settings), :mod:`.frames`
(decoding a video once), :mod:`.video` (one video's outputs, resumable) and :mod:`.pool` (many videos in
parallel, bad-video policy).  Modalities themselves are components (:class:`benchmark.interfaces.Modality`);
nothing here knows any modality by name.
"""
