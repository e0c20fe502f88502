# %% [markdown]
# # Bonus A: why the in-class classifier learned nothing
#
# The classifier written in class never did better than always answering
# "Impressionism". This notebook finds out why, fixes it, and (in the next sections)
# trains a from-scratch network that really learns.
#
# **Which data?** By default the workbook runs on `synthart`, an embedded procedural
# stand-in with WikiArt's 27 style folders and WikiArt's class imbalance. It is *not*
# WikiArt: numbers measured on it say how the code behaves, not how well anything
# recognises real paintings. On the GPU server, set `dataset: wikiart` in
# `data_paths.yaml` and re-run.

# %% [markdown]
# ## Parameters
# `PROFILE` sets the size of everything: `smoke` (seconds, for the tests), `demo`
# (minutes on a laptop CPU), `full` (the GPU server). The environment variable
# `WIKIART_PROFILE` overrides the default, which is how `make test` and `make report`
# choose.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("WIKIART_PROFILE", "demo")
DATASET = os.environ.get("WIKIART_DATASET")  # None: the `dataset:` line of data_paths.yaml
SEED = 0

# %%
from wikiart_core import config, data, plots

profile = config.get_profile(PROFILE)
paths = config.load_paths(dataset=DATASET)
train_set, test_set = data.load_splits(paths, profile.image_size)
print(f"dataset {paths.dataset!r}{' (synthetic, not WikiArt)' if paths.synth else ''}; profile {profile.name!r}")
print(train_set)
print(test_set)

# %% [markdown]
# ## The styles and their imbalance
# The label of each style is its position in the **sorted** list of folder names, and
# the test split is always built with the train split's list. The counts below are the
# whole split, whatever the profile.

# %%
# NBVAL_CHECK_OUTPUT
train_counts = train_set.class_counts()
test_counts = test_set.class_counts()
print(f"{'label':>5}  {'style':<28}{'train':>6}{'test':>6}")
for label, style in enumerate(train_set.classes):
    print(f"{label:>5}  {style:<28}{train_counts[style]:>6}{test_counts[style]:>6}")
print(f"{'':>5}  {'total':<28}{len(train_set):>6}{len(test_set):>6}")

# %% [markdown]
# Every accuracy in this workbook is read against two baselines: always answering the
# largest style, and the balanced accuracy of guessing (1 / number of styles).

# %%
# NBVAL_CHECK_OUTPUT
majority_style = max(train_counts, key=train_counts.get)
majority_test_accuracy = test_counts[majority_style] / len(test_set)
print(f"largest style in train: {majority_style} ({train_counts[majority_style]} of {len(train_set)} images)")
print(f"always answering it scores {test_counts[majority_style]}/{len(test_set)} = {majority_test_accuracy:.1%} "
      f"test accuracy")
print(f"chance balanced accuracy: 1/{len(train_set.classes)} = {1 / len(train_set.classes):.1%}")

# %%
plots.class_counts(train_counts, test_counts=test_counts)

# %% [markdown]
# A few images of each style, as the models see them (at the profile's image size):

# %%
examples = train_set.limit_per_class(4, seed=SEED)
images, labels = examples.get_batch(range(len(examples)))
plots.sample_grid(images.numpy(), labels.numpy(), train_set.classes, per_style=4)

# %% [markdown]
# ## The bug: a label mapping that changes between runs
# The course code built its label mapping like this:
#
# ```python
# styles = []
# for dirpath, dirnames, filenames in os.walk(root):
#     for filename in filenames:
#         styles.append(os.path.basename(dirpath))
# label_of = {style: i for i, style in enumerate(list(set(styles)))}
# ```
#
# A Python `set` of strings iterates in an order that depends on the string hashes,
# and Python picks a new random hash seed for every process. Training ran in one
# process and testing in another, so the style called 3 during training could be
# called 17 during testing: the model was scored against shuffled labels. We build
# both mappings in fresh Python processes with different `PYTHONHASHSEED` values
# (what happens every time a kernel restarts):

# %%
runs = {}
for hash_seed in (1, 2, 3):
    runs[f"original, run {hash_seed}"] = data.label_mapping_in_subprocess(paths.train, hash_seed, "original")
for hash_seed in (1, 2, 3):
    runs[f"fixed, run {hash_seed}"] = data.label_mapping_in_subprocess(paths.train, hash_seed, "fixed")
plots.label_mappings(runs, train_set.classes)

# %%
# NBVAL_CHECK_OUTPUT
original = [mapping for name, mapping in runs.items() if name.startswith("original")]
fixed = [mapping for name, mapping in runs.items() if name.startswith("fixed")]
moved = sum(original[0][style] != original[1][style] for style in train_set.classes)
print(f"original mapping identical in all runs: {all(m == original[0] for m in original)} "
      f"({moved} of {len(train_set.classes)} styles change label between run 1 and run 2)")
print(f"fixed mapping identical in all runs:    {all(m == fixed[0] for m in fixed)}")
print(f"fixed mapping is the sorted style list and matches the dataset: {fixed[0] == train_set.class_to_idx}")

# %% [markdown]
# **The fix** is one line: `classes = sorted(style_folders)`, and the test split reuses
# the train split's list (`WikiArtDataset(test_root, classes=train.classes)`). A
# checkpoint stores its class list, so a model and its labels always travel together.
