"""wikiart_core.evaluate: metrics against scikit-learn, baselines by hand, batched prediction."""
import math

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, precision_recall_fscore_support

from wikiart_core import data, evaluate, models

pytestmark = pytest.mark.usefixtures("single_torch_thread")

CLASSES = ["A", "B", "C", "D"]


def test_classification_metrics_match_scikit_learn():
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 0])
    y_pred = np.array([0, 1, 0, 1, 2, 2, 2, 0, 2, 0])
    metrics = evaluate.classification_metrics(y_true, y_pred, CLASSES)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred)) == pytest.approx(0.7)
    assert metrics["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert metrics["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=[0, 1, 2])
    for i, style in enumerate("ABC"):
        assert metrics["per_class"][style]["precision"] == pytest.approx(precision[i])
        assert metrics["per_class"][style]["recall"] == pytest.approx(recall[i])
        assert metrics["per_class"][style]["f1"] == pytest.approx(f1[i])
        assert metrics["per_class"][style]["support"] == support[i]
    assert metrics["n_samples"] == 10


def test_per_class_lists_styles_absent_from_y_true():
    metrics = evaluate.classification_metrics([0, 1, 1], [0, 1, 3], CLASSES)
    assert list(metrics["per_class"]) == CLASSES
    assert metrics["per_class"]["C"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert metrics["per_class"]["D"]["support"] == 0
    assert metrics["per_class"]["D"]["precision"] == 0.0  # predicted once, never right


def test_baselines_on_a_hand_computed_example():
    counts = {"A": 6, "B": 3, "C": 1}
    y_true = [0, 0, 1, 1, 1, 2]  # test shares 2/6, 3/6, 1/6
    result = evaluate.baselines(counts, y_true, ["A", "B", "C"])
    majority = result["majority"]
    assert majority["style"] == "A"
    assert majority["accuracy"] == pytest.approx(2 / 6)
    assert majority["balanced_accuracy"] == pytest.approx(1 / 3)  # recall 1, 0, 0
    assert majority["macro_f1"] == pytest.approx((2 * (2 / 6) * 1 / (2 / 6 + 1)) / 3)  # F1_A = 0.5, others 0
    stratified = result["stratified"]
    assert stratified["accuracy"] == pytest.approx(0.6 * 2 / 6 + 0.3 * 3 / 6 + 0.1 * 1 / 6)  # 0.3
    assert stratified["balanced_accuracy"] == pytest.approx(1 / 3)
    # F1_c = 2 n_c p_c / (N p_c + n_c): A 2*2*.6/(3.6+2), B 2*3*.3/(1.8+3), C 2*1*.1/(.6+1)
    expected_f1 = (2.4 / 5.6 + 1.8 / 4.8 + 0.2 / 1.6) / 3
    assert stratified["macro_f1"] == pytest.approx(expected_f1)


def test_top_k_accuracy_by_hand_and_against_scikit_learn():
    from sklearn.metrics import top_k_accuracy_score

    scores = np.array([[0.5, 0.3, 0.1, 0.1],    # true 1: second -> in top 2
                       [0.1, 0.2, 0.3, 0.4],    # true 0: last -> out of top 3
                       [0.4, 0.3, 0.2, 0.1]])   # true 2: third -> in top 3, not top 2
    y_true = [1, 0, 2]
    assert evaluate.top_k_accuracy(y_true, scores, k=1) == pytest.approx(0.0)
    assert evaluate.top_k_accuracy(y_true, scores, k=2) == pytest.approx(1 / 3)
    assert evaluate.top_k_accuracy(y_true, scores, k=3) == pytest.approx(2 / 3)
    assert evaluate.top_k_accuracy(y_true, scores, k=9) == 1.0
    rng = np.random.default_rng(1)
    random_scores, random_truth = rng.random((200, 6)), rng.integers(0, 6, 200)
    assert evaluate.top_k_accuracy(random_truth, random_scores, 3) == pytest.approx(
        top_k_accuracy_score(random_truth, random_scores, k=3, labels=range(6)))
    metrics = evaluate.classification_metrics(y_true, scores.argmax(axis=1), CLASSES, scores)
    assert metrics["top3_accuracy"] == pytest.approx(2 / 3)
    assert "top3_accuracy" not in evaluate.classification_metrics(y_true, [0, 0, 0], CLASSES)


def test_top3_baselines_rank_by_train_counts_and_by_exact_draws():
    counts = {"A": 40, "B": 30, "C": 20, "D": 10}
    y_true = np.array([0, 1, 2, 3, 3, 3])
    result = evaluate.baselines(counts, y_true, CLASSES)
    # majority ranks A, B, C: every test item but the three Ds
    assert result["majority"]["top3_accuracy"] == pytest.approx(3 / 6)
    # stratified: D is left out only when the three draws are exactly A, B, C in some order
    p = np.array([0.4, 0.3, 0.2, 0.1])
    import itertools
    d_missed = sum(p[a] * p[b] / (1 - p[a]) * p[c] / (1 - p[a] - p[b])
                   for a, b, c in itertools.permutations([0, 1, 2]))
    hit = evaluate._stratified_top_k_hit(p, 3)
    assert hit[3] == pytest.approx(1 - d_missed)
    assert hit.sum() == pytest.approx(3.0)          # three styles are drawn every time
    simulated = np.zeros(4)
    rng = np.random.default_rng(0)
    for _ in range(20000):
        simulated[rng.choice(4, size=3, replace=False, p=p)] += 1
    assert np.allclose(simulated / 20000, hit, atol=0.01)
    expected = (hit[0] + hit[1] + hit[2] + 3 * hit[3]) / 6
    assert result["stratified"]["top3_accuracy"] == pytest.approx(expected)


def test_stratified_balanced_accuracy_is_one_over_c_when_all_styles_are_present():
    counts = {"A": 50, "B": 30, "C": 15, "D": 5}
    rng = np.random.default_rng(0)
    y_true = np.concatenate([np.arange(4), rng.integers(0, 4, 50)])
    result = evaluate.baselines(counts, y_true, CLASSES)
    assert result["stratified"]["balanced_accuracy"] == pytest.approx(1 / 4)
    assert result["majority"]["balanced_accuracy"] == pytest.approx(1 / 4)


def test_results_table_lists_models_then_baselines_in_percent():
    # Validation and test side by side; a split a run was not scored on shows "-".
    rows = {"StyleCNN": {"validation": {"accuracy": 0.6, "balanced_accuracy": 0.45, "macro_f1": 0.41},
                         "test": {"accuracy": 0.5123, "balanced_accuracy": 0.4, "macro_f1": 0.39}},
            "SeedCNN": {"validation": {"accuracy": 0.3, "balanced_accuracy": 0.2, "macro_f1": 0.1}}}
    base = evaluate.baselines({"A": 6, "B": 3, "C": 1}, [0, 0, 1, 1, 1, 2], ["A", "B", "C"])
    table = evaluate.results_table(rows, {"validation": base, "test": base})
    lines = table.splitlines()
    assert "validation" in lines[0] and "test" in lines[0]
    assert lines[0].index("validation") < lines[0].index("test")
    assert lines[1].count("acc.") == 4 and lines[1].count("macro-F1") == 2
    style_cnn = next(line for line in lines if line.startswith("StyleCNN"))
    # validation cells first, then test
    # validation: acc, bal. acc, macro-F1, top-3 ("-": not given), then test
    assert style_cnn.split()[1:] == ["60.0%", "45.0%", "41.0%", "-", "51.2%", "40.0%", "39.0%", "-"]
    seed_cnn = next(line for line in lines if line.startswith("SeedCNN"))
    assert seed_cnn.split()[1:] == ["30.0%", "20.0%", "10.0%", "-", "-", "-", "-", "-"]
    assert "baseline: always A" in table and "33.3%" in table
    assert "baseline: stratified random" in table
    assert table.index("StyleCNN") < table.index("baseline")
    assert len({len(line) for line in lines}) == 1  # fixed width
    # Baselines given for one split only: the other split's cells are "-".
    test_only = evaluate.results_table(rows, {"test": base}).splitlines()
    majority = next(line for line in test_only if line.startswith("baseline: always A"))
    # with 3 styles every style is in the top 3: top-3 accuracy 100%
    assert majority.split()[3:] == ["-", "-", "-", "-", "33.3%", "33.3%", "16.7%", "100.0%"]


class _ArrayDataset:
    """The part of WikiArtDataset that predict uses."""

    def __init__(self, images, labels, classes):
        self.images, self.labels, self.classes = images, labels, classes

    def __len__(self):
        return len(self.labels)

    def get_batch(self, indices):
        indices = np.asarray(indices)
        return torch.from_numpy(self.images[indices]), torch.from_numpy(self.labels[indices])


@pytest.fixture
def tiny():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (11, 3, 16, 16), dtype=np.uint8)
    labels = rng.integers(0, 4, 11).astype(np.int64)
    return _ArrayDataset(images, labels, CLASSES)


@pytest.mark.parametrize("batch_size", [1, 4, 11, 256])
def test_predict_matches_a_manual_forward_pass_across_batch_boundaries(tiny, batch_size):
    torch.manual_seed(0)
    model = models.StyleCNN(n_classes=4, width=4, depth=2)
    model.train()
    result = evaluate.predict(model, tiny, batch_size=batch_size, device="cpu")
    assert model.training  # mode restored
    model.eval()
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(tiny.images).float() / 255), dim=1).numpy()
    assert result.probabilities.shape == (11, 4) and result.probabilities.dtype == np.float32
    np.testing.assert_allclose(result.probabilities, expected, atol=1e-5)
    np.testing.assert_array_equal(result.y_pred, expected.argmax(1))
    np.testing.assert_array_equal(result.y_true, tiny.labels)
    assert result.y_true.dtype == np.int64


def test_predict_turns_log_probabilities_into_probabilities(tiny):
    model = models.SeedCNN(n_classes=4, image_size=16).eval()
    result = evaluate.predict(model, tiny, batch_size=5, device="cpu")
    assert not model.training
    np.testing.assert_allclose(result.probabilities.sum(1), 1.0, atol=1e-5)


def test_predict_on_a_real_dataset(tmp_path):
    for style, color in [("A", (200, 10, 10)), ("B", (10, 10, 200))]:
        (tmp_path / style).mkdir()
        for i in range(3):
            Image.new("RGB", (20, 20), color).save(tmp_path / style / f"{i}.jpg")
    dataset = data.WikiArtDataset(tmp_path, image_size=16, progress=False)
    result = evaluate.predict(models.SeedCNN(n_classes=2, image_size=16), dataset, batch_size=4, device="cpu")
    assert result.y_true.tolist() == dataset.targets


class _Halve(torch.nn.Module):
    def forward(self, x):
        return x * 0.5


def test_reconstruction_metrics_mse_and_psnr(tiny):
    result = evaluate.reconstruction_metrics(_Halve(), tiny, batch_size=3, device="cpu")
    x = tiny.images.astype(np.float64) / 255
    mse = np.mean((x * 0.5 - x) ** 2)
    assert result["mse"] == pytest.approx(mse, rel=1e-5)
    assert result["psnr"] == pytest.approx(10 * math.log10(1 / mse), rel=1e-5)


def test_confusion_matrix_figure_has_style_names():
    figure = evaluate.confusion_matrix_figure([0, 1, 2, 2], [0, 2, 2, 1], CLASSES)
    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert labels == CLASSES
