"""Training configuration: ``TrainConfig`` and the YAML run file (``model:`` + ``train:``).

A run file has two sections::

    model:            # ModelConfig fields, except n_bead_types / n_vectors
      cutoff: 8.0     # (those come from the dataset's mapping set)
      num_layers: 2
    train:            # TrainConfig fields
      dataset: data/my_dataset
      output: runs/my_run
      epochs: 50

Unknown sections or keys are errors that name the key. Relative paths are relative to
the current working directory.
"""

from __future__ import annotations

import math
import typing
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import yaml

from ..errors import InputError
from ..model.config import ModelConfig
from .loss import LossConfig

__all__ = ["TrainConfig", "RunConfig", "load_run_config", "parse_override", "read_config_yaml"]

FROM_MAPPING = ("n_bead_types", "n_vectors")
SCHEDULES = ("cosine", "plateau", "constant")
DTYPES = ("float32", "float64")


_LOSS = LossConfig()


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (learning rates per step; lengths in Å, angles in degrees)."""

    dataset: str = ""  # dataset folder (herobm dataset build)
    output: str = "runs/herobm"  # folder for best.pt, last.pt, metrics.csv, loss.png
    train_split: str = "train"
    val_split: str = "val"  # no frames in it: the train loss is monitored instead
    epochs: int = 100
    lr: float = 2e-3
    lr_schedule: str = "cosine"  # cosine (per step, to lr_min) | plateau (per epoch) | constant
    lr_min: float = 1e-5
    warmup_steps: int = 0  # linear warm-up (cosine and constant)
    plateau_factor: float = 0.5
    plateau_patience: int = 5  # epochs without improvement before the LR drops
    weight_decay: float = 0.0  # AdamW
    grad_clip: float = 10.0  # max gradient norm; 0 = off
    max_beads: int = 2000  # beads (core beads of chunks) per micro-batch
    chunk_steps: bool = False  # one optimizer step per micro-batch (a large frame's chunks are separate
    #                            steps) instead of one per frame (gradients accumulated over its chunks)
    patience: int = 20  # early stopping: epochs without improvement; 0 = off
    time_budget_min: float | None = None  # wall-clock minutes for this call: after each of the first two
    #                                       epochs, ``epochs`` (and the LR horizon) is set to what fits (<= epochs)
    seed: int = 0
    init_from: str | None = None  # start from these weights (a checkpoint file or a shipped model name),
    #                               not at random; the optimizer and LR schedule start afresh (fine-tuning)
    init_member: int = 0  # which network of an ensemble checkpoint init_from names (0 = the first)
    bead_noise: float = 0.0  # Å: training steps move every input bead by Gaussian noise of this standard
    #                          deviation (per axis); the atoms to rebuild stay where they are (denoising)
    atom_weights: dict[str, float] = field(default_factory=dict)  # weight of rebuilt atoms of these names in
    #                                   the position loss (others 1), e.g. {O: 4} for the carbonyl O of a Cα model
    # loss (see herobm.train.loss; defaults are LossConfig's, declared once there)
    w_position: float = _LOSS.w_position
    w_bond: float = _LOSS.w_bond
    bond_tolerance: float = _LOSS.bond_tolerance  # Å
    w_angle: float = _LOSS.w_angle
    angle_tolerance: float = _LOSS.angle_tolerance  # degrees
    w_dihedral: float = _LOSS.w_dihedral
    w_vector: float = _LOSS.w_vector
    dtype: str = "float32"  # float32 | float64
    max_train_frames: int | None = None  # random subset (from seed) when set
    max_val_frames: int | None = None
    num_threads: int | None = None  # torch CPU threads (None: torch's default)
    num_workers: int = 0  # DataLoader processes reading frames / building graphs
    cache_beads: int = 1_000_000  # frames kept in memory (with neighbour lists), in beads
    progress: bool = True  # tqdm bars

    def __post_init__(self) -> None:
        if self.lr_schedule not in SCHEDULES:
            raise InputError(f"train.lr_schedule must be one of {', '.join(SCHEDULES)}, got '{self.lr_schedule}'")
        if self.dtype not in DTYPES:
            raise InputError(f"train.dtype must be one of {', '.join(DTYPES)}, got '{self.dtype}'")
        for name in ("epochs", "max_beads"):
            if getattr(self, name) < 1:
                raise InputError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise InputError(f"train.lr must be positive, got {self.lr}")
        if not self.bead_noise >= 0:  # also rejects NaN
            raise InputError(f"train.bead_noise must be >= 0 Å, got {self.bead_noise}")
        if self.bead_noise > 0 and self.w_vector > 0:
            raise InputError("train.bead_noise needs train.w_vector: 0 (the true vectors start at the "
                             "noise-free beads)")
        if not isinstance(self.atom_weights, dict):
            raise InputError(f"train.atom_weights must map atom names to weights, e.g. {{O: 4}}, got '{self.atom_weights}'")
        weights = {}
        for name, w in self.atom_weights.items():
            try:
                weights[str(name)] = float(w)
            except (TypeError, ValueError):
                raise InputError(f"train.atom_weights.{name}: '{w}' is not a number") from None
            if not (math.isfinite(weights[str(name)]) and weights[str(name)] > 0):
                raise InputError(f"train.atom_weights.{name} must be a positive number, got {w}")
        object.__setattr__(self, "atom_weights", weights)
        if self.init_member < 0:
            raise InputError(f"train.init_member must be >= 0, got {self.init_member}")
        if self.time_budget_min is not None and self.time_budget_min <= 0:
            raise InputError(f"train.time_budget_min must be positive or null, got {self.time_budget_min}")
        for name in ("max_train_frames", "max_val_frames", "num_threads"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise InputError(f"train.{name} must be >= 1 or null, got {v}")

    @property
    def loss(self) -> LossConfig:
        return LossConfig(**{f.name: getattr(self, f.name) for f in fields(LossConfig)})

    @property
    def torch_dtype(self):
        import torch

        return torch.float64 if self.dtype == "float64" else torch.float32

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return cls(**_checked(cls, d or {}, "train"))

    def to_dict(self) -> dict:
        return asdict(self)


def _checked(cls, d: dict, section: str, exclude: tuple[str, ...] = ()) -> dict:
    """Reject unknown keys (naming them) and coerce YAML scalars to the field types
    (PyYAML reads ``1e-3`` as a string)."""
    if not isinstance(d, dict):
        raise InputError(f"'{section}:' must be a mapping of options, got {type(d).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)} - set(exclude)
    out = {}
    for k, v in d.items():
        if k not in known:
            raise InputError(f"unknown {section} option '{k}' (known: {', '.join(sorted(known))})")
        out[k] = _coerce(v, hints[k], f"{section}.{k}")
    return out


def _coerce(v, hint, name: str):
    if typing.get_origin(hint) is dict:  # checked by the dataclass itself
        return v
    args = typing.get_args(hint)
    if v is None:
        if type(None) in args:
            return None
        raise InputError(f"{name} cannot be null")
    base = next((a for a in args if a is not type(None)), hint) if args else hint
    try:
        if base is bool:
            if isinstance(v, bool):
                return v
            raise ValueError
        if base is int:
            if isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()):
                raise ValueError
            return int(float(v)) if isinstance(v, str) else int(v)
        if base is float:
            if isinstance(v, bool):
                raise ValueError
            return float(v)
        if base is str:
            if isinstance(v, (dict, list)):
                raise ValueError
            return str(v)
    except (TypeError, ValueError):
        raise InputError(f"{name}: '{v}' is not a valid {base.__name__}") from None
    return v


@dataclass(frozen=True)
class RunConfig:
    """A whole run: model hyperparameters (without the mapping-given sizes) + training."""

    model: dict = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    source: str | None = None

    def __post_init__(self) -> None:
        bad = [k for k in FROM_MAPPING if k in self.model]
        if bad:
            raise InputError(
                f"model.{bad[0]} comes from the dataset's mapping set (number of bead types, most atoms "
                "per bead); remove it from the config"
            )
        self.model_config(1, 1)  # validates keys and values

    def model_config(self, n_bead_types: int, n_vectors: int) -> ModelConfig:
        return ModelConfig.from_dict({**_checked(ModelConfig, self.model, "model", FROM_MAPPING),
                                      "n_bead_types": n_bead_types, "n_vectors": n_vectors})

    @classmethod
    def from_dict(cls, d: dict, source: str | None = None) -> "RunConfig":
        d = d or {}
        if not isinstance(d, dict):
            raise InputError(f"{source or 'config'}: expected sections 'model:' and 'train:'")
        unknown = set(d) - {"model", "train"}
        if unknown:
            raise InputError(f"{source or 'config'}: unknown section '{sorted(unknown)[0]}' (expected 'model', 'train')")
        model = dict(d.get("model") or {})
        train = TrainConfig.from_dict(d.get("train") or {})
        return cls(model=model, train=train, source=source)

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> "RunConfig":
        """A config file; ``extends: OTHER.yaml`` (relative to the file) takes OTHER's values
        first, key by key within each section; ``overrides`` (``SECTION.KEY=VALUE``) come last."""
        path = Path(path)
        data = read_config_yaml(path)
        for o in overrides:
            section, key, value = parse_override(o)
            if not isinstance(data.get(section), dict):
                data[section] = {}
            data[section][key] = value
        return cls.from_dict(data, source=str(path))

    def with_train(self, **changes) -> "RunConfig":
        return replace(self, train=replace(self.train, **changes))

    def to_dict(self) -> dict:
        return {"model": dict(self.model), "train": self.train.to_dict()}


def read_config_yaml(path: Path, _seen: tuple[Path, ...] = ()) -> dict:
    """The sections of a config file with what it ``extends`` merged in (its own keys win)."""
    if not path.is_file():
        raise InputError(f"{path}: no such config file" + (f" (extended by {_seen[-1]})" if _seen else ""))
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected sections 'model:' and 'train:'")
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str) or not base.strip():
        raise InputError(f"{path}: 'extends' must name a config file, got {base!r}")
    base_path = (path.parent / base).resolve()
    if base_path in _seen + (path.resolve(),):
        raise InputError(f"{path}: 'extends: {base}' makes a cycle")
    parent = read_config_yaml(base_path, _seen + (path.resolve(),))
    merged = dict(parent)
    for section, values in data.items():
        if isinstance(values, dict) and isinstance(parent.get(section), dict):
            merged[section] = {**parent[section], **values}
        else:
            merged[section] = values
    return merged


def parse_override(text: str) -> tuple[str, str, object]:
    """``train.epochs=5`` -> ("train", "epochs", 5) (value parsed as YAML)."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise InputError(f"--set '{text}': expected SECTION.KEY=VALUE, e.g. train.epochs=5")
    lhs, value = text.split("=", 1)
    section, key = lhs.strip().split(".", 1)
    if section not in ("model", "train"):
        raise InputError(f"--set '{text}': section must be 'model' or 'train'")
    return section, key.strip(), yaml.safe_load(value) if value.strip() else None


def load_run_config(config, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """A RunConfig from a YAML path, a dict or a RunConfig, with ``SECTION.KEY=VALUE`` overrides."""
    if not isinstance(config, (RunConfig, dict)):
        return RunConfig.from_yaml(config, overrides)
    if not overrides:
        return config if isinstance(config, RunConfig) else RunConfig.from_dict(config)
    data = config.to_dict() if isinstance(config, RunConfig) else {k: dict(v or {}) for k, v in config.items()}
    for o in overrides:
        section, key, value = parse_override(o)
        data.setdefault(section, {})[key] = value
    return RunConfig.from_dict(data, source=getattr(config, "source", None))
