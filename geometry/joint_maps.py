"""Conversion maps between joint sets, as data: a weight matrix per coordinate axis.

A map is built from a readable per-joint recipe (copy one source joint, mean of several, or a
weighted combination whose weights sum to 1, so every map commutes with translation) into a
`(D, J_dst, J_src)` weight matrix (`linear_map`, `permutation_map`, `compose`). A map may carry
a non-linear correction on top (`JointMap.post`). The registered maps are `conversions.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from liftbench.geometry._validate import Array
from liftbench.geometry.joint_sets import JointSet, get_joint_set

# A recipe for one destination joint: a source name (copy), a tuple of names (their mean) or
# a {source name: weight} mapping (weighted combination; the weights must sum to 1).
JointRecipe = str | tuple[str, ...] | Mapping[str, float]


@dataclass(frozen=True, eq=False)
class JointMap:
    """A joint-set conversion: one weight matrix per coordinate axis (plus an optional fix-up).

    Attributes:
        src: source joint set name.
        dst: destination joint set name.
        variant: name of this recipe (several may exist for one src/dst pair).
        weights: `(D, J_dst, J_src)` weights for coordinate axes 0..D-1 (D = 3 for maps that
            hold for 2D and 3D alike, D = 2 for 2D-only heuristics). Rows sum to 1.
        conf_weights: `(J_dst, J_src)` non-negative weights for a confidence channel, rows
            summing to 1 (by default |weights| of axis 0, row-normalised: the MotionBERT rule of
            averaging confidence exactly like the coordinates).
        doc: where the recipe comes from.
        post: optional non-linear correction `post(out_xyz, src_xyz) -> out_xyz` applied to the
            spatial coordinates after the linear part (shapes `(..., J_dst, D)`, `(..., J_src, D)`).
    """

    src: str
    dst: str
    variant: str
    weights: np.ndarray
    conf_weights: np.ndarray
    doc: str = ""
    post: Callable[[Array, Array], Array] | None = None

    @property
    def max_dims(self) -> int:
        """Largest number of spatial coordinates this map is defined for (2 or 3)."""
        return int(self.weights.shape[0])

    @cached_property
    def used(self) -> np.ndarray:
        """`(J_dst, J_src)` bool: source joints each coordinate row reads (any axis)."""
        return (self.weights != 0).any(0)

    @cached_property
    def conf_used(self) -> np.ndarray:
        """`(J_dst, J_src)` bool: source joints each confidence row reads."""
        return self.conf_weights != 0

    @cached_property
    def conf_sources(self) -> np.ndarray:
        """`(J_dst, K)` source indices per confidence row (padded by repetition), for a min."""
        return _padded_sources(self.conf_used)

    def support(self, dst_joint: int) -> tuple[int, ...]:
        """Source joints that destination joint `dst_joint` depends on (any axis or conf).

        The linear part only: a `post` correction may read more (SportsPose head: eyes).
        """
        used = self.used[dst_joint] | self.conf_used[dst_joint]
        return tuple(int(i) for i in np.flatnonzero(used))


def _recipe_row(recipe: JointRecipe, src: JointSet) -> np.ndarray:
    """One `(J_src,)` weight row from a per-joint recipe."""
    if isinstance(recipe, str):
        terms = [(recipe, 1.0)]
    elif isinstance(recipe, tuple):
        terms = [(name, 1.0 / len(recipe)) for name in recipe]
    else:
        terms = list(recipe.items())
    row = np.zeros(src.num_joints)
    for name, weight in terms:
        if name not in src.joints:
            raise ValueError(f"recipe names {name!r}, not a joint of {src.name!r}")
        row[src.index(name)] += weight
    if not np.isclose(row.sum(), 1.0):
        raise ValueError(f"recipe {recipe!r} weights sum to {row.sum()}, expected 1")
    return row


def _recipe_matrix(recipes: Mapping[str, JointRecipe], src: JointSet, dst: JointSet) -> np.ndarray:
    """`(J_dst, J_src)` matrix from one recipe per destination joint name."""
    missing = [name for name in dst.joints if name not in recipes]
    extra = [name for name in recipes if name not in dst.joints]
    if missing or extra:
        raise ValueError(f"{src.name}->{dst.name} recipes: missing {missing}, unknown {extra}")
    return np.stack([_recipe_row(recipes[name], src) for name in dst.joints])


def _normalised_abs(weights: np.ndarray) -> np.ndarray:
    """Row-normalised |weights|: the confidence rule derived from a coordinate map."""
    absolute = np.abs(weights)
    return absolute / absolute.sum(-1, keepdims=True)


def linear_map(
    src: str,
    dst: str,
    variant: str,
    recipes: Mapping[str, JointRecipe],
    *,
    axis_recipes: Mapping[int, Mapping[str, JointRecipe]] | None = None,
    conf_recipes: Mapping[str, JointRecipe] | None = None,
    dims: int = 3,
    doc: str = "",
) -> JointMap:
    """Build a `JointMap` from readable per-joint recipes.

    Args:
        src: source joint set name.
        dst: destination joint set name.
        variant: name of the recipe.
        recipes: destination joint name -> recipe, used for every axis and (row-normalised
            absolute weights) for the confidence unless overridden.
        axis_recipes: per-axis overrides, axis index -> {destination joint name -> recipe}.
        conf_recipes: overrides for the confidence channel, destination joint name -> recipe.
        dims: number of spatial axes the map is defined for (3, or 2 for 2D-only heuristics).
        doc: provenance of the recipe.

    Returns:
        The map, with `weights` of shape `(dims, J_dst, J_src)`.
    """
    src_set, dst_set = get_joint_set(src), get_joint_set(dst)
    base = _recipe_matrix(recipes, src_set, dst_set)
    weights = np.repeat(base[None], dims, axis=0)
    for axis, overrides in (axis_recipes or {}).items():
        for name, recipe in overrides.items():
            weights[axis, dst_set.index(name)] = _recipe_row(recipe, src_set)
    conf = _normalised_abs(base)
    for name, recipe in (conf_recipes or {}).items():
        conf[dst_set.index(name)] = _recipe_row(recipe, src_set)
    return JointMap(src, dst, variant, weights, conf, doc)


def permutation_map(
    src: str, dst: str, variant: str, indices: list[int], doc: str = ""
) -> JointMap:
    """A copy-only map: destination joint `j` = source joint `indices[j]`."""
    src_set = get_joint_set(src)
    dst_set = get_joint_set(dst)
    recipes = {dst_set.joints[j]: src_set.joints[i] for j, i in enumerate(indices)}
    return linear_map(src, dst, variant, recipes, doc=doc)


def compose(first: JointMap, second: JointMap, variant: str | None = None) -> JointMap:
    """The map `second ∘ first` (`first.dst` must equal `second.src`)."""
    if first.dst != second.src:
        raise ValueError(f"cannot compose {first.src}->{first.dst} with {second.src}->{second.dst}")
    if first.post is not None or second.post is not None:
        raise ValueError("only linear maps compose")
    dims = min(first.max_dims, second.max_dims)
    weights = np.einsum("dij,djk->dik", second.weights[:dims], first.weights[:dims])
    conf = second.conf_weights @ first.conf_weights
    name = variant or f"{first.variant}+{second.variant}"
    doc = f"{first.doc} then {second.doc}"
    return JointMap(first.src, second.dst, name, weights, conf, doc)


def _padded_sources(used: np.ndarray) -> np.ndarray:
    """`(J_dst, K)` source indices of each row of a `(J_dst, J_src)` boolean mask.

    Short rows are padded with a repeat of their first index (harmless for a min).
    """
    width = int(used.sum(-1).max())
    index = np.zeros((used.shape[0], width), dtype=np.int64)
    for row, mask in enumerate(used):
        cols = np.flatnonzero(mask)
        index[row] = np.concatenate([cols, np.full(width - cols.size, cols[0])])
    return index
