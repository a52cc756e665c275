"""``bench spot``: a finished run's trained pipeline applied to new videos or ``.pose`` files (:mod:`.apply`),
with the inputs checked first (:mod:`.inputs`), cut to a range (:mod:`.ranges`), each segment's alternatives
(:mod:`.candidates`), outputs written per input (:mod:`.outputs`, ELAN through :mod:`.eaf`) and a corpus
resumed where it stopped (:mod:`.resume`)."""

from benchmark.spot.apply import find_bundle, spot
from benchmark.spot.eaf import SpottedTier, link_media, write_spotted_eaf
from benchmark.spot.outputs import FORMATS, write_eaf

__all__ = ["FORMATS", "SpottedTier", "find_bundle", "link_media", "spot", "write_eaf", "write_spotted_eaf"]
