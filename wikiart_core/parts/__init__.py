"""Part-specific code, one module per notebook that needs more than the generic
machinery: ``bonus_a`` (the label-mapping bug, notebook 01). The generic pieces
(data, engine, tasks, experiment, evaluate, ...) live one level up."""


class PrerequisiteError(RuntimeError):
    """A notebook needs what another notebook makes (e.g. notebook 01's StyleCNN) and it
    is not there for this profile and dataset; the message names the notebook to run."""
