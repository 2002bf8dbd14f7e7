"""Build augmentation pipelines from plain configuration (as stored in YAML configs)."""
from __future__ import annotations

from .. import augment

_NAMES = {
    "edge_drop": augment.EdgeDrop, "feature_mask": augment.FeatureMask,
    "node_drop": augment.NodeDrop, "subgraph": augment.Subgraph, "edge_add": augment.EdgeAdd,
    "ppr": augment.PPRDiffusion, "feature_shuffle": augment.FeatureShuffle,
    "adaptive_edge_drop": augment.AdaptiveEdgeDrop,
    "adaptive_feature_mask": augment.AdaptiveFeatureMask,
    # images and video clips (a scalar is the first argument: crop scale, flip p, affine degrees,
    # jitter strength, grayscale p, blur p, noise std, erasing p, crop frames)
    "random_resized_crop": augment.RandomResizedCrop, "horizontal_flip": augment.HorizontalFlip,
    "random_affine": augment.RandomAffine, "color_jitter": augment.ColorJitter,
    "random_grayscale": augment.RandomGrayscale, "gaussian_blur": augment.GaussianBlur,
    "gaussian_noise": augment.GaussianNoise, "random_erasing": augment.RandomErasing,
    "temporal_crop": augment.TemporalCrop,
    # token sequences (a scalar is p / fraction / min_fraction; pass mask_id / pad_id in a dict)
    "token_mask": augment.TokenMask, "token_drop": augment.TokenDrop,
    "span_deletion": augment.SpanDeletion, "token_crop": augment.TokenCrop,
}


def build_view(config) -> augment.Augmentation:
    """``{'edge_drop': 0.2, 'feature_mask': 0.3}`` -> ``Compose([EdgeDrop(0.2), FeatureMask(0.3)])``.

    A value is the augmentation's first argument, a dict of its keyword arguments, or ``True``
    for its defaults (``{'feature_shuffle': True}``). Entries that are 0, ``False`` or ``None``
    are skipped; an empty config is the identity.
    """
    if isinstance(config, augment.Augmentation):
        return config
    if not isinstance(config, dict):
        raise TypeError(f"a view config must be a dict like {{'edge_drop': 0.2}}, got {config!r}")
    steps = []
    for key, value in config.items():
        if key not in _NAMES:
            raise ValueError(f"unknown augmentation {key!r} in view config; known: "
                             f"{', '.join(sorted(_NAMES))}")
        if isinstance(value, dict):
            steps.append(_NAMES[key](**value))
        elif value is True:
            steps.append(_NAMES[key]())
        elif value:
            steps.append(_NAMES[key](value))
    return augment.Compose(steps) if steps else augment.Identity()
