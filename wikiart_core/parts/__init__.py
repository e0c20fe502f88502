"""Part-specific code, one module per notebook that needs more than the generic
machinery: ``bonus_a`` (the label-mapping bug, notebook 01). The generic pieces
(data, engine, tasks, experiment, evaluate, ...) live one level up."""
