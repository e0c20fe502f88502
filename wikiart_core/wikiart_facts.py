"""Facts about the real WikiArt split of the assignment, in one table.

The notebooks quote these (rendered by code, never typed into Markdown), and the
embedded synthetic data copies its class imbalance from :data:`TRAIN_COUNTS`.
The numbers describe the folders on the course's GPU server
(``/scratch/lt2326-2926-h24/wikiart/{train,test}/<Style>/``), not any run here.
"""
from __future__ import annotations

# Train images per style in the real WikiArt split.
TRAIN_COUNTS: dict[str, int] = {
    "Impressionism": 2269,
    "Realism": 1712,
    "Romanticism": 1157,
    "Expressionism": 1127,
    "Post_Impressionism": 946,
    "Baroque": 721,
    "Art_Nouveau_Modern": 688,
    "Symbolism": 679,
    "Abstract_Expressionism": 449,
    "Northern_Renaissance": 413,
    "Cubism": 390,
    "Naive_Art_Primitivism": 373,
    "Rococo": 369,
    "Color_Field_Painting": 268,
    "Mannerism_Late_Renaissance": 246,
    "Early_Renaissance": 246,
    "Pop_Art": 244,
    "Minimalism": 212,
    "High_Renaissance": 198,
    "Ukiyo_e": 197,
    "Fauvism": 163,
    "Contemporary_Realism": 91,
    "Pointillism": 80,
    "New_Realism": 41,
    "Synthetic_Cubism": 38,
    "Action_painting": 18,
    "Analytical_Cubism": 15,
}
TEST_IMAGES = 630
# Test images of the largest style: "always Impressionism" gets these right.
TEST_MAJORITY_IMAGES = 101
IMAGE_SIDE_PX = 416
N_STYLES = len(TRAIN_COUNTS)
TRAIN_IMAGES = sum(TRAIN_COUNTS.values())
LARGEST_STYLE = max(TRAIN_COUNTS, key=TRAIN_COUNTS.get)
SMALLEST_STYLE = min(TRAIN_COUNTS, key=TRAIN_COUNTS.get)


def imbalance_ratio() -> float:
    """Train images of the largest style over those of the smallest (a ratio, about 151)."""
    return TRAIN_COUNTS[LARGEST_STYLE] / TRAIN_COUNTS[SMALLEST_STYLE]


def test_majority_accuracy() -> float:
    """Test accuracy of always predicting the largest style (a fraction, about 0.160)."""
    return TEST_MAJORITY_IMAGES / TEST_IMAGES


def chance_balanced_accuracy() -> float:
    """Balanced accuracy of any constant or random guess: 1 / number of styles."""
    return 1 / N_STYLES


def style_words(style: str) -> str:
    """'Analytical_Cubism' -> 'Analytical Cubism'."""
    return style.replace("_", " ")


def summary_words() -> str:
    """One sentence on the real split, for a notebook's introduction (Markdown)."""
    return (f"the real WikiArt split has {N_STYLES} style folders of {IMAGE_SIDE_PX}×{IMAGE_SIDE_PX} px JPEGs, "
            f"{TRAIN_IMAGES:,} train and {TEST_IMAGES} test images; the largest style, "
            f"{style_words(LARGEST_STYLE)} ({TRAIN_COUNTS[LARGEST_STYLE]:,} train images), has "
            f"{imbalance_ratio():.0f} times more than the smallest, {style_words(SMALLEST_STYLE)} "
            f"({TRAIN_COUNTS[SMALLEST_STYLE]}), and always answering {style_words(LARGEST_STYLE)} scores "
            f"{100 * test_majority_accuracy():.1f}% on its test set")
