"""Image datasets: loaders for folders, Tiny-ImageNet, idx and npz, plus per-class sampling."""

from metad2a.data.arrays import find_idx_pair, from_arrays, load_idx, load_npz, read_idx, to_uint8_nhwc
from metad2a.data.decode import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, decode_image, resize_batch, to_rgb
from metad2a.data.images import FolderIndex, load_image_folder, scan_image_folder
from metad2a.data.imageset import ImageSet
from metad2a.data.load import FORMATS, detect_format, load_images
from metad2a.data.paths import check_data_path
from metad2a.data.sampling import per_class_budget, sample_per_class, split_per_class
from metad2a.data.tiny_imagenet import (
    load_tiny_imagenet,
    tiny_imagenet_classes,
    tiny_imagenet_files,
    tiny_imagenet_root,
    tiny_imagenet_words,
)

__all__ = [
    "DEFAULT_MAX_PIXELS", "FORMATS", "IMAGE_EXTENSIONS", "FolderIndex", "ImageSet", "check_data_path",
    "decode_image", "detect_format", "find_idx_pair", "from_arrays", "load_idx", "load_image_folder",
    "load_images", "load_npz", "load_tiny_imagenet", "per_class_budget", "read_idx", "resize_batch", "sample_per_class",
    "scan_image_folder", "split_per_class", "tiny_imagenet_classes", "tiny_imagenet_files",
    "tiny_imagenet_root", "tiny_imagenet_words", "to_rgb", "to_uint8_nhwc",
]
