"""Road datasets: the synthetic default set, converters, checks, road-condition augmentations."""

# The converters' formats, each read by pipeline.datasets.convert_<format>; kept here, light, for the CLI's --help.
FORMATS = ("kitti", "bdd100k", "cityscapes", "voc", "coco")
