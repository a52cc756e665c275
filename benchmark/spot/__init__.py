"""``bench spot``: a finished run's trained pipeline applied to new videos or ``.pose`` files (:mod:`.apply`),
with the inputs checked first (:mod:`.inputs`), outputs written per input (:mod:`.outputs`) and a corpus
resumed where it stopped (:mod:`.resume`)."""

from benchmark.spot.apply import find_bundle, spot
from benchmark.spot.outputs import FORMATS, link_media, write_eaf

__all__ = ["FORMATS", "find_bundle", "link_media", "spot", "write_eaf"]
